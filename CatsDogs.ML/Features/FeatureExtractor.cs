using System.Collections.Concurrent;
using System.Security.Cryptography;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Features;

/// <summary>Features of the photos that could be used, in input order, and the ones that could not.</summary>
internal sealed record ExtractedFeatures(IReadOnlyList<ImageEntry> Images, IReadOnlyList<float[]> Features, IReadOnlyList<SkippedImage> Skipped);

/// <summary>
/// Photo → concatenated pooled features of every backbone, in the backbones' order. Each photo is read and hashed
/// once, looked up in the cache per backbone, and decoded once (rendered once per input size) for the backbones that
/// missed. Photos are processed concurrently, one per core, each backbone session running single-threaded.
/// </summary>
internal sealed class FeatureExtractor
{
    private readonly IReadOnlyList<Backbone> _backbones;
    private readonly FeatureCache? _cache;
    private readonly int[] _offsets;
    private readonly int[] _lengths;
    private readonly ConcurrentBag<Scratch> _idle = new();

    public FeatureExtractor(IReadOnlyList<Backbone> backbones, FeatureCache? cache, bool averageWithMirror = false, BackboneOutput output = BackboneOutput.Pooled)
    {
        if (backbones.Count == 0)
        {
            throw new ArgumentException("At least one backbone is needed.", nameof(backbones));
        }

        _backbones = backbones;
        _cache = cache;
        AverageWithMirror = averageWithMirror;
        Output = output;
        _lengths = backbones.Select(b => b.OutputLength(output)).ToArray();
        _offsets = new int[backbones.Count];
        for (var i = 1; i < backbones.Count; i++)
        {
            _offsets[i] = _offsets[i - 1] + _lengths[i - 1];
        }

        Dimension = _lengths.Sum();
    }

    /// <summary>
    /// An extractor configured by <paramref name="options"/>: its cache folder (or none), mirror averaging and degree
    /// of parallelism; <paramref name="output"/> chooses the pooled features (default) or the ImageNet head, which is
    /// never mirror-averaged.
    /// </summary>
    public static FeatureExtractor Create(IReadOnlyList<Backbone> backbones, CatsDogsOptions options, BackboneOutput output = BackboneOutput.Pooled) =>
        new(
            backbones,
            options.UseCache ? new FeatureCache(options.CacheDirectory ?? FeatureCache.DefaultDirectory) : null,
            options.AverageWithMirror && output == BackboneOutput.Pooled,
            output)
        {
            MaxDegreeOfParallelism = options.MaxDegreeOfParallelism,
        };

    /// <summary>Which output of each backbone is extracted (pooled features unless an ImageNet head is asked for).</summary>
    public BackboneOutput Output { get; }

    /// <summary>Whether each backbone's features are the mean of the photo's and its mirror image's (test-time augmentation).</summary>
    public bool AverageWithMirror { get; }

    /// <summary>Length of the concatenated feature vector.</summary>
    public int Dimension { get; }

    /// <summary>How many photos each worker takes at a time; the degree of parallelism.</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Extracts features for a batch; unusable photos are reported, never thrown.</summary>
    public ExtractedFeatures Extract(IReadOnlyList<ImageEntry> images, IProgress<CatsDogsProgress>? progress, CancellationToken cancellationToken, string stage = "features")
    {
        var features = new float[images.Count][];
        var reasons = new string?[images.Count];
        var done = 0;
        progress?.Report(new CatsDogsProgress(stage, 0, images.Count));
        var options = new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism, CancellationToken = cancellationToken };

        Parallel.For(0, images.Count, options, RentScratch, (i, _, scratch) =>
        {
            var output = new float[Dimension];
            reasons[i] = TryExtract(images[i], scratch, output);
            features[i] = output;
            var completed = Interlocked.Increment(ref done);
            if (completed % 16 == 0 || completed == images.Count)
            {
                progress?.Report(new CatsDogsProgress(stage, completed, images.Count));
            }

            return scratch;
        }, _idle.Add);

        var used = new List<ImageEntry>(images.Count);
        var vectors = new List<float[]>(images.Count);
        var skipped = new List<SkippedImage>();
        for (var i = 0; i < images.Count; i++)
        {
            if (reasons[i] is { } reason)
            {
                skipped.Add(new SkippedImage(images[i], reason));
            }
            else
            {
                used.Add(images[i]);
                vectors.Add(features[i]);
            }
        }

        return new ExtractedFeatures(used, vectors, skipped);
    }

    /// <summary>Features of one encoded photo, without the cache.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public float[] ExtractOne(ReadOnlySpan<byte> bytes, string source)
    {
        var output = new float[Dimension];
        var scratch = RentScratch();
        try
        {
            Compute(bytes, source, scratch, output, missing: null, parallel: true);
        }
        finally
        {
            _idle.Add(scratch);
        }

        return output;
    }

    // Parallel.For restarts its worker tasks from time to time, calling the local init each time (65 times for 2,000
    // photos on 2 cores), and every Predict is a call of its own: scratch buffers (read, decode and tensor buffers)
    // are kept between uses, one set per concurrent user, instead of one per restart or per photo.
    private Scratch RentScratch() => _idle.TryTake(out var reused) ? reused : new Scratch(_backbones, _lengths);

    // Returns null on success, else the reason the photo was skipped.
    private string? TryExtract(ImageEntry image, Scratch scratch, float[] output)
    {
        ReadOnlySpan<byte> bytes;
        try
        {
            bytes = scratch.Read(image.Path);
        }
        catch (FileNotFoundException)
        {
            return "the file no longer exists (it vanished after the folder was listed).";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"the file cannot be read: {e.Message}";
        }

        var keys = new byte[_backbones.Count][];
        var missing = new bool[_backbones.Count];
        var imageHash = _cache is null ? "" : Convert.ToHexStringLower(SHA256.HashData(bytes));
        var anyMissing = false;
        for (var b = 0; b < _backbones.Count; b++)
        {
            keys[b] = _cache is null ? [] : FeatureCache.Key(CacheIdentity(b), imageHash);
            missing[b] = _cache is null || !_cache.TryRead(keys[b], output.AsSpan(_offsets[b], _lengths[b]));
            anyMissing |= missing[b];
        }

        if (!anyMissing)
        {
            return null;
        }

        try
        {
            Compute(bytes, image.Path, scratch, output, missing);
        }
        catch (ImageDecodeException e)
        {
            return e.Reason;
        }

        for (var b = 0; b < _backbones.Count; b++)
        {
            if (missing[b])
            {
                _cache?.Write(keys[b], output.AsSpan(_offsets[b], _lengths[b]));
            }
        }

        return null;
    }

    // What the cached vector of backbone b depends on besides the photo.
    private string CacheIdentity(int b) => _backbones[b].Fingerprint
        + (Output == BackboneOutput.ImageNetHead ? "|imagenet-head" : "")
        + (AverageWithMirror ? "|mirror-average" : "");

    // Decodes once, renders once per input size (and its mirror), and runs the backbones that are still missing:
    // in order with the worker's buffers for batches (the workers already fill the cores), or all views at once for
    // a single photo (its latency is then about one network run, not two or eight).
    private void Compute(ReadOnlySpan<byte> bytes, string source, Scratch scratch, float[] output, bool[]? missing, bool parallel = false)
    {
        var needed = Enumerable.Range(0, _backbones.Count).Where(b => missing is null || missing[b]).ToArray();
        var minSize = needed.Max(b => Math.Max(_backbones[b].Spec.InputWidth, _backbones[b].Spec.InputHeight));
        using var decoded = ImageDecoder.Decode(bytes, source, minSize, scratch.Decoded);
        scratch.Rendered.Clear();
        var jobs = new List<(int Backbone, byte[] Pixels)>();
        foreach (var b in needed)
        {
            var spec = _backbones[b].Spec;
            var view = (spec.InputWidth, spec.InputHeight, spec.Resize);
            if (scratch.Rendered.Add(view))
            {
                decoded.RenderTo(spec.InputWidth, spec.InputHeight, spec.Resize, scratch.Pixels(view));
            }

            jobs.Add((b, scratch.Pixels(view)));
            if (AverageWithMirror)
            {
                jobs.Add((b, scratch.Mirrored(view, scratch.Pixels(view))));
            }

            Array.Clear(output, _offsets[b], _lengths[b]);
        }

        var weight = AverageWithMirror ? 0.5f : 1f;
        if (!parallel)
        {
            foreach (var (b, pixels) in jobs)
            {
                _backbones[b].Writer.Write(pixels, scratch.Inputs[b]);
                _backbones[b].Run(scratch.Inputs[b], scratch.Outputs[b], Output);
                Accumulate(scratch.Outputs[b], output.AsSpan(_offsets[b], _lengths[b]), weight);
            }

            return;
        }

        var results = new float[jobs.Count][];
        Parallel.For(0, jobs.Count, new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism }, k =>
        {
            var (b, pixels) = jobs[k];
            var input = new float[_backbones[b].Writer.Length];
            _backbones[b].Writer.Write(pixels, input);
            results[k] = new float[_lengths[b]];
            _backbones[b].Run(input, results[k], Output);
        });
        for (var k = 0; k < jobs.Count; k++)
        {
            Accumulate(results[k], output.AsSpan(_offsets[jobs[k].Backbone], _lengths[jobs[k].Backbone]), weight);
        }
    }

    // target += weight × values (weight 1 or ½: exact, so the order of views does not matter).
    private static void Accumulate(float[] values, Span<float> target, float weight)
    {
        for (var j = 0; j < target.Length; j++)
        {
            target[j] += weight * values[j];
        }
    }

    // Per-worker buffers, reused for every photo the worker handles.
    private sealed class Scratch(IReadOnlyList<Backbone> backbones, int[] lengths)
    {
        private readonly Dictionary<(int, int, ResizePolicy), byte[]> _pixels = new();

        public float[][] Inputs { get; } = backbones.Select(b => new float[b.Writer.Length]).ToArray();

        public float[][] Outputs { get; } = lengths.Select(n => new float[n]).ToArray();

        public HashSet<(int, int, ResizePolicy)> Rendered { get; } = new();

        public PixelBuffer Decoded { get; } = new();

        private byte[] _file = [];

        // Reads a whole file into the worker's reusable buffer: photos above 85 kB would otherwise each land on the
        // large-object heap, which grows the process until a full collection.
        public ReadOnlySpan<byte> Read(string path)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            var length = stream.Length;
            if (length > Array.MaxLength)
            {
                throw new IOException($"the file is {length} bytes, too large to be a photo.");
            }

            if (_file.Length < length)
            {
                _file = new byte[Math.Max(length, _file.Length * 2L)];
            }

            stream.ReadExactly(_file, 0, (int)length);
            return _file.AsSpan(0, (int)length);
        }

        // The left-right mirror of a rendered view, made once per view and photo.
        public byte[] Mirrored((int Width, int Height, ResizePolicy Policy) view, byte[] pixels)
        {
            var key = (-view.Width, view.Height, view.Policy);
            var mirrored = Pixels(key);
            if (Rendered.Add(key))
            {
                RgbaPixels.Mirror(pixels, mirrored, view.Width);
            }

            return mirrored;
        }

        public byte[] Pixels((int Width, int Height, ResizePolicy Policy) view)
        {
            if (!_pixels.TryGetValue(view, out var buffer))
            {
                buffer = new byte[Math.Abs(view.Width) * view.Height * 4];
                _pixels[view] = buffer;
            }

            return buffer;
        }
    }
}
