using System.Collections.Concurrent;
using System.Security.Cryptography;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Features;

/// <summary>Features of the photos that could be used, in input order, and the ones that could not.</summary>
internal sealed record ExtractedFeatures(IReadOnlyList<ImageEntry> Images, IReadOnlyList<float[]> Features, IReadOnlyList<SkippedImage> Skipped);

/// <summary>The outputs of every (backbone, view) for one photo, and what their cache keys are made of.</summary>
/// <param name="ImageSha256">The photo's bytes' SHA-256.</param>
/// <param name="Decoded">The size the photo decodes at.</param>
/// <param name="Identity">The extractor's <see cref="FeatureExtractor.IdentityHash"/>.</param>
/// <param name="Values">[backbone][view] outputs.</param>
internal sealed record ViewOutputs(string ImageSha256, (int Width, int Height) Decoded, string Identity, float[][][] Values);

/// <summary>A feature map of one backbone and view, as the session returned it.</summary>
internal sealed record FeatureMap(float[] Values, long[] Shape);

/// <summary>
/// The photo pipeline: photo bytes → decoded once → each view rendered once per input size → a tensor per
/// backbone → one run per (backbone, view) → each backbone's output averaged over the views, in view order, and
/// concatenated in backbone order. Scoring, training, explaining and the audit all go through <see cref="Compute"/>,
/// so the same bytes give the same features whatever asked for them. Batches are cached per (backbone, view) and
/// processed one photo per core; a single photo runs its views concurrently instead.
/// </summary>
internal sealed class FeatureExtractor
{
    private readonly BackboneSet _backbones;
    private readonly IReadOnlyList<ImageView> _views;
    private readonly FeatureCache? _cache;
    private readonly int[] _offsets;
    private readonly int[] _lengths;
    private readonly string[,] _identities;
    private readonly float _viewWeight;
    private readonly ConcurrentBag<Scratch> _idle = new();

    public FeatureExtractor(BackboneSet backbones, IReadOnlyList<ImageView> views, FeatureCache? cache, BackboneOutput output = BackboneOutput.Pooled)
    {
        _backbones = backbones;
        _views = ImageView.CheckList(views);
        _cache = cache;
        Output = output;
        _lengths = backbones.Select(b => b.OutputLength(output)).ToArray();
        _offsets = new int[backbones.Count];
        for (var i = 1; i < backbones.Count; i++)
        {
            _offsets[i] = _offsets[i - 1] + _lengths[i - 1];
        }

        Dimension = _lengths.Sum();
        DecodeSize = PhotoViews.MinDecodeSize(backbones.Select(b => b.Spec.Preprocessing), views);
        _viewWeight = 1f / views.Count;
        _identities = new string[backbones.Count, views.Count];
        for (var b = 0; b < backbones.Count; b++)
        {
            for (var v = 0; v < views.Count; v++)
            {
                _identities[b, v] = FeatureCacheKey.Identity(backbones.At(b, views[v].InputSize), views[v], output);
            }
        }
    }

    /// <summary>An extractor configured by <paramref name="options"/> (views, cache, parallelism, photo size cap).</summary>
    public static FeatureExtractor Create(BackboneSet backbones, FeatureOptions options, BackboneOutput output = BackboneOutput.Pooled) =>
        new(backbones, output == BackboneOutput.Pooled ? options.Views : [ImageView.Native], options.UseCache ? new FeatureCache(options.CacheDirectory ?? FeatureCache.DefaultDirectory) : null, output)
        {
            MaxDegreeOfParallelism = options.MaxDegreeOfParallelism,
            MaxPhotoBytes = options.MaxPhotoBytes,
        };

    /// <summary>Which output of each backbone is extracted (pooled features unless an ImageNet head is asked for).</summary>
    public BackboneOutput Output { get; }

    /// <summary>The views features are averaged over.</summary>
    public IReadOnlyList<ImageView> Views => _views;

    /// <summary>The backbones, in feature order.</summary>
    public BackboneSet Backbones => _backbones;

    /// <summary>Length of the concatenated feature vector.</summary>
    public int Dimension { get; }

    /// <summary>The short side photos are decoded at (at least; see <see cref="PhotoViews.MinDecodeSize"/>).</summary>
    public int DecodeSize { get; }

    /// <summary>How many photos are processed at once; the degree of parallelism.</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Largest photo file read.</summary>
    public long MaxPhotoBytes { get; init; } = PhotoFile.DefaultMaxBytes;

    /// <summary>Where each backbone's output starts in the concatenated vector.</summary>
    public int Offset(int backbone) => _offsets[backbone];

    /// <summary>Extracts features for a batch; unusable photos are reported, never thrown.</summary>
    public ExtractedFeatures Extract(IReadOnlyList<ImageEntry> images, IProgress<CatsDogsProgress>? progress, CancellationToken cancellationToken, string stage = "features")
    {
        var features = new float[images.Count][];
        var reasons = new string?[images.Count];
        var done = 0;
        progress?.Report(new CatsDogsProgress(stage, 0, images.Count));
        var options = new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism, CancellationToken = cancellationToken };

        Parallel.For(0, images.Count, options, Rent, (i, _, scratch) =>
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
        }, Return);

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

    /// <summary>
    /// Features of one encoded photo, without the cache; its views run concurrently unless
    /// <paramref name="parallel"/> is false (callers that already keep every core busy with one photo each).
    /// </summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public float[] ExtractOne(ReadOnlySpan<byte> bytes, string source, bool parallel = true)
    {
        var output = new float[Dimension];
        var scratch = Rent();
        try
        {
            using (Compute(bytes, source, scratch, missing: null, maps: null, parallel))
            {
                Average(scratch, output);
            }
        }
        finally
        {
            Return(scratch);
        }

        return output;
    }

    /// <summary>
    /// The outputs of every (backbone, view) for one encoded photo, with what their cache keys are made of besides
    /// the backbone and view: the photo's hash and the size it decodes at. What a remote worker sends back so that the
    /// coordinator can fill its own cache (<see cref="Store"/>).
    /// </summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public ViewOutputs ExtractViews(ReadOnlySpan<byte> bytes, string source)
    {
        var decoded = ImageDecoder.DecodedSize(bytes, DecodeSize);
        var scratch = Rent();
        try
        {
            using (Compute(bytes, source, scratch, missing: null, maps: null, parallel: false))
            {
            }

            var values = new float[_backbones.Count][][];
            for (var b = 0; b < _backbones.Count; b++)
            {
                values[b] = scratch.ViewOutputs[b].Select(v => v.ToArray()).ToArray();
            }

            return new ViewOutputs(Convert.ToHexStringLower(SHA256.HashData(bytes)), decoded ?? (0, 0), IdentityHash(), values);
        }
        finally
        {
            Return(scratch);
        }
    }

    /// <summary>
    /// Writes outputs computed elsewhere into this extractor's cache, under the keys this extractor would read; refused
    /// (false) when they were computed for other backbones, views or files (their identity differs) or there is no cache.
    /// </summary>
    public bool Store(ViewOutputs outputs)
    {
        if (_cache is null || outputs.Identity != IdentityHash() || outputs.Values.Length != _backbones.Count)
        {
            return false;
        }

        for (var b = 0; b < _backbones.Count; b++)
        {
            for (var v = 0; v < _views.Count; v++)
            {
                if (outputs.Values[b].Length != _views.Count || outputs.Values[b][v].Length != _lengths[b] || outputs.Values[b][v].Any(x => !float.IsFinite(x)))
                {
                    return false;
                }

                _cache.Write(FeatureCacheKey.Of(_identities[b, v], outputs.ImageSha256, outputs.Decoded), outputs.Values[b][v]);
            }
        }

        return true;
    }

    /// <summary>
    /// Whether some (backbone, view) of the photo at <paramref name="path"/> is not in the cache yet; false when
    /// everything is cached, when there is no cache to fill, or when the file cannot even be read (training reports it).
    /// </summary>
    public bool NeedsComputing(string path, Scratch scratch)
    {
        if (_cache is null)
        {
            return false;
        }

        try
        {
            var bytes = PhotoFile.Read(path, MaxPhotoBytes, ref scratch.FileBuffer).Span;
            if (ImageDecoder.DecodedSize(bytes, DecodeSize) is not { } size)
            {
                return true;
            }

            var imageHash = Convert.ToHexStringLower(SHA256.HashData(bytes));
            for (var b = 0; b < _backbones.Count; b++)
            {
                for (var v = 0; v < _views.Count; v++)
                {
                    if (!_cache.TryRead(FeatureCacheKey.Of(_identities[b, v], imageHash, size), scratch.ViewOutputs[b][v]))
                    {
                        return true;
                    }
                }
            }

            return false;
        }
        catch (ImageDecodeException)
        {
            return false;
        }
    }

    /// <summary>A digest of every (backbone, view) identity of this extractor: equal on two machines when their backbone files, specs and views are.</summary>
    public string IdentityHash() => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join("\n--\n", _identities.Cast<string>()))));

    /// <summary>A set of per-worker buffers, reused; give it back with <see cref="Return"/>.</summary>
    public Scratch Rent() => _idle.TryTake(out var reused) ? reused : new Scratch(_backbones, _views, _lengths);

    /// <summary>Gives buffers back for the next caller.</summary>
    public void Return(Scratch scratch) => _idle.Add(scratch);

    /// <summary>
    /// Decodes the photo once and runs every (backbone, view) that <paramref name="missing"/> marks (all when null):
    /// each output lands in <see cref="Scratch.ViewOutputs"/>, and, when <paramref name="maps"/> is given (sessions
    /// that expose feature maps), each feature map in it. Returns the decoded photo, which the caller disposes.
    /// </summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public PhotoViews Compute(ReadOnlySpan<byte> bytes, string source, Scratch scratch, bool[,]? missing, FeatureMap?[,]? maps, bool parallel)
    {
        var photo = PhotoViews.Decode(bytes, source, DecodeSize, scratch.Render);
        try
        {
            var jobs = new List<(int Backbone, int View)>();
            for (var b = 0; b < _backbones.Count; b++)
            {
                for (var v = 0; v < _views.Count; v++)
                {
                    if (missing is null || missing[b, v])
                    {
                        jobs.Add((b, v));
                    }
                }
            }

            // Rendering (and mirroring) happens once per view and input size, before any run; runs are then pure.
            var pixels = jobs.Select(j => photo.Render(_backbones[j.Backbone].Spec.Preprocessing, _views[j.View])).ToArray();
            void RunJob(int k, float[] input)
            {
                var (b, v) = jobs[k];
                var backbone = _backbones.At(b, _views[v].InputSize);
                backbone.Writer.Write(pixels[k], input);
                if (maps is null)
                {
                    backbone.Run(input, scratch.ViewOutputs[b][v], Output);
                }
                else
                {
                    var (map, shape) = backbone.RunWithMap(input, scratch.ViewOutputs[b][v]);
                    maps[b, v] = new FeatureMap(map, shape);
                }
            }

            if (parallel && jobs.Count > 1)
            {
                Parallel.For(0, jobs.Count, new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism }, k => RunJob(k, new float[scratch.Inputs[jobs[k].Backbone][jobs[k].View].Length]));
            }
            else
            {
                for (var k = 0; k < jobs.Count; k++)
                {
                    RunJob(k, scratch.Inputs[jobs[k].Backbone][jobs[k].View]);
                }
            }

            return photo;
        }
        catch
        {
            photo.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Each backbone's output averaged over the views, in view order, into its slice of <paramref name="output"/>:
    /// the one place features are averaged, so every caller gets the same floats.
    /// </summary>
    public void Average(Scratch scratch, Span<float> output)
    {
        for (var b = 0; b < _backbones.Count; b++)
        {
            var target = output.Slice(_offsets[b], _lengths[b]);
            target.Clear();
            foreach (var values in scratch.ViewOutputs[b])
            {
                for (var j = 0; j < target.Length; j++)
                {
                    target[j] += _viewWeight * values[j];
                }
            }
        }
    }

    // Returns null on success, else the reason the photo was skipped.
    private string? TryExtract(ImageEntry image, Scratch scratch, float[] output)
    {
        try
        {
            var bytes = PhotoFile.Read(image.Path, MaxPhotoBytes, ref scratch.FileBuffer).Span;
            var imageHash = _cache is null ? "" : Convert.ToHexStringLower(SHA256.HashData(bytes));
            var decoded = _cache is null ? null : ImageDecoder.DecodedSize(bytes, DecodeSize);
            var missing = new bool[_backbones.Count, _views.Count];
            var anyMissing = false;
            for (var b = 0; b < _backbones.Count; b++)
            {
                for (var v = 0; v < _views.Count; v++)
                {
                    missing[b, v] = decoded is not { } size || !_cache!.TryRead(FeatureCacheKey.Of(_identities[b, v], imageHash, size), scratch.ViewOutputs[b][v]);
                    anyMissing |= missing[b, v];
                }
            }

            if (anyMissing)
            {
                using (Compute(bytes, image.Path, scratch, missing, maps: null, parallel: false))
                {
                }

                for (var b = 0; b < _backbones.Count; b++)
                {
                    for (var v = 0; v < _views.Count; v++)
                    {
                        if (missing[b, v] && decoded is { } size)
                        {
                            _cache!.Write(FeatureCacheKey.Of(_identities[b, v], imageHash, size), scratch.ViewOutputs[b][v]);
                        }
                    }
                }
            }

            Average(scratch, output);
            return null;
        }
        catch (ImageDecodeException e)
        {
            return e.Reason;
        }
    }

    /// <summary>Per-worker buffers, reused for every photo the worker handles.</summary>
    internal sealed class Scratch(BackboneSet backbones, IReadOnlyList<ImageView> views, int[] lengths)
    {
        /// <summary>Decode and render buffers.</summary>
        public RenderScratch Render { get; } = new();

        /// <summary>One input tensor per backbone and view (sequential runs): [backbone][view].</summary>
        public float[][][] Inputs { get; } = Enumerable.Range(0, backbones.Count)
            .Select(b => views.Select(v => new float[backbones.At(b, v.InputSize).Writer.Length]).ToArray()).ToArray();

        /// <summary>The output of each backbone and view: [backbone][view].</summary>
        public float[][][] ViewOutputs { get; } = lengths.Select(n => views.Select(_ => new float[n]).ToArray()).ToArray();

        /// <summary>The photo file's bytes (grows up to <see cref="PhotoFile.MaxKeptBuffer"/>).</summary>
        public byte[] FileBuffer = [];
    }
}
