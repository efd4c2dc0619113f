using System.Collections.Concurrent;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Features;

/// <summary>
/// The photo pipeline, put together from its four parts: <see cref="PhotoSource"/> (bytes → key and decoded photo),
/// <see cref="ViewRenderer"/> (decoded photo → a tensor per backbone and view), <see cref="BackboneRunner"/> (tensor →
/// output) and <see cref="FeatureCachePolicy"/> (which outputs are cached). Each backbone's outputs are averaged over
/// the views, in view order, and concatenated in backbone order (<see cref="Average"/>). Scoring, training, explaining
/// and the audit all go through <see cref="Compute"/> and <see cref="Average"/>, so the same bytes give the same
/// features whatever asked for them. Batches are processed one photo per core, each photo's views in turn; a single
/// photo runs its views concurrently instead. Per-worker buffers are pooled (<see cref="Rent"/>), so memory stays flat.
/// </summary>
internal sealed class FeatureExtractor
{
    private readonly BackboneSet _backbones;
    private readonly IReadOnlyList<ImageView> _views;
    private readonly ViewRenderer _renderer;
    private readonly BackboneRunner _runner;
    private readonly FeatureCachePolicy _cache;
    private readonly int[] _offsets;
    private readonly int[] _lengths;
    private readonly float _viewWeight;
    private readonly ConcurrentBag<Scratch> _idle = new();
    private readonly PhotoSource _source;

    public FeatureExtractor(BackboneSet backbones, IReadOnlyList<ImageView> views, FeatureCache? cache, BackboneOutput output = BackboneOutput.Pooled)
    {
        _backbones = backbones;
        _views = ImageView.CheckList(views);
        _renderer = new ViewRenderer(backbones, _views);
        _runner = new BackboneRunner(backbones, _views, output);
        _cache = new FeatureCachePolicy(backbones, _views, output, cache);
        _lengths = Enumerable.Range(0, backbones.Count).Select(_runner.OutputLength).ToArray();
        _offsets = new int[backbones.Count];
        for (var i = 1; i < backbones.Count; i++)
        {
            _offsets[i] = _offsets[i - 1] + _lengths[i - 1];
        }

        Dimension = _lengths.Sum();
        _viewWeight = 1f / views.Count;
        _source = new PhotoSource(PhotoViews.MinDecodeSize(backbones.Select(b => b.Spec.Preprocessing), views), PhotoFile.DefaultMaxBytes);
    }

    /// <summary>An extractor configured by <paramref name="options"/> (views, cache, parallelism, photo size cap).</summary>
    public static FeatureExtractor Create(BackboneSet backbones, FeatureOptions options, BackboneOutput output = BackboneOutput.Pooled) =>
        new(backbones, output == BackboneOutput.Pooled ? options.Views : [ImageView.Native], options.UseCache ? new FeatureCache(options.CacheDirectory ?? FeatureCache.DefaultDirectory) : null, output)
        {
            MaxDegreeOfParallelism = options.MaxDegreeOfParallelism,
            MaxPhotoBytes = options.MaxPhotoBytes,
        };

    /// <summary>Which output of each backbone is extracted (pooled features unless an ImageNet head is asked for).</summary>
    public BackboneOutput Output => _runner.Output;

    /// <summary>The views features are averaged over.</summary>
    public IReadOnlyList<ImageView> Views => _views;

    /// <summary>The backbones, in feature order.</summary>
    public BackboneSet Backbones => _backbones;

    /// <summary>Length of the concatenated feature vector.</summary>
    public int Dimension { get; }

    /// <summary>The short side photos are decoded at (at least; see <see cref="PhotoViews.MinDecodeSize"/>).</summary>
    public int DecodeSize => _source.DecodeSize;

    /// <summary>How many photos are processed at once; the degree of parallelism.</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Largest photo file read.</summary>
    public long MaxPhotoBytes
    {
        get => _source.MaxPhotoBytes;
        init => _source = new PhotoSource(_source.DecodeSize, value);
    }

    /// <summary>A digest of every (backbone, view) identity of this extractor: equal on two machines when their backbone files, specs and views are.</summary>
    public string IdentityHash => _cache.IdentityHash;

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
            using (Compute(bytes, source, scratch, _cache.Slots, maps: null, parallel))
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
    /// The outputs of every (backbone, view) for one encoded photo, without the cache, with what their cache keys are
    /// made of besides the backbone and view: what a remote worker sends back so that the coordinator can fill its own
    /// cache (<see cref="Store"/>).
    /// </summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public ViewOutputs ExtractViews(ReadOnlySpan<byte> bytes, string source)
    {
        var decoded = _source.DecodedSize(bytes);
        var scratch = Rent();
        try
        {
            using (Compute(bytes, source, scratch, _cache.Slots, maps: null, parallel: false))
            {
            }

            var values = scratch.ViewOutputs.Select(views => views.Select(v => v.ToArray()).ToArray()).ToArray();
            return new ViewOutputs(PhotoSource.Sha256(bytes), decoded ?? (0, 0), IdentityHash, values);
        }
        finally
        {
            Return(scratch);
        }
    }

    /// <summary>
    /// Writes outputs computed elsewhere into this extractor's cache, under the keys this extractor would read; refused
    /// (false) when they were computed for other backbones, views or files (their identity differs), when their shape
    /// or a value is wrong, or when there is no cache. Nothing is written unless every output passes.
    /// </summary>
    public bool Store(ViewOutputs outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (!_cache.Enabled || outputs.Identity != IdentityHash || outputs.Values is not { } values || values.Length != _backbones.Count)
        {
            return false;
        }

        for (var b = 0; b < values.Length; b++)
        {
            if (values[b] is not { } views || views.Length != _views.Count || views.Any(v => v is null || v.Length != _lengths[b] || v.Any(x => !float.IsFinite(x))))
            {
                return false;
            }
        }

        _cache.Store(new PhotoKey(outputs.ImageSha256, outputs.Decoded), _cache.Slots, values);
        return true;
    }

    /// <summary>
    /// The photos some (backbone, view) of which is not in the cache yet, in input order; none when there is no cache
    /// to fill. A photo that cannot even be read is not listed (extraction reports it).
    /// </summary>
    public List<ImageEntry> Uncached(IReadOnlyList<ImageEntry> photos, CancellationToken cancellationToken)
    {
        var needed = new bool[photos.Count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism, CancellationToken = cancellationToken };
        Parallel.For(0, photos.Count, options, Rent, (i, _, scratch) =>
        {
            needed[i] = NeedsComputing(photos[i].Path, scratch);
            return scratch;
        }, Return);
        return photos.Where((_, i) => needed[i]).ToList();
    }

    /// <summary>A set of per-worker buffers, reused; give it back with <see cref="Return"/>.</summary>
    public Scratch Rent() => _idle.TryTake(out var reused) ? reused : new Scratch(_views.Count, _lengths, _cache.Slots.Select(_renderer.TensorLength).ToArray());

    /// <summary>Gives buffers back for the next caller.</summary>
    public void Return(Scratch scratch) => _idle.Add(scratch);

    /// <summary>
    /// Decodes the photo once and runs every (backbone, view) into <see cref="Scratch.ViewOutputs"/>, with its feature
    /// map into <paramref name="maps"/> ([backbone][view]; the sessions must expose them), for the explainer. Returns
    /// the decoded photo, which the caller disposes.
    /// </summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public PhotoViews ComputeWithMaps(ReadOnlySpan<byte> bytes, string source, Scratch scratch, FeatureMap[][] maps) =>
        Compute(bytes, source, scratch, _cache.Slots, maps, parallel: true);

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

    // Decodes the photo once, renders every slot (one thread: renders share buffers), then writes and runs each slot's
    // tensor, concurrently when asked; the outputs land in the scratch. Returns the decoded photo, which the caller disposes.
    private PhotoViews Compute(ReadOnlySpan<byte> bytes, string source, Scratch scratch, IReadOnlyList<ViewSlot> slots, FeatureMap[][]? maps, bool parallel)
    {
        var photo = _source.Decode(bytes, source, scratch.Render);
        try
        {
            var pixels = _renderer.Render(photo, slots);
            void Run(int k)
            {
                var slot = slots[k];
                var tensor = scratch.Inputs[slot.Backbone * _views.Count + slot.View];
                var output = scratch.ViewOutputs[slot.Backbone][slot.View];
                _renderer.WriteTensor(slot, pixels[k], tensor);
                if (maps is null)
                {
                    _runner.Run(slot, tensor, output);
                }
                else
                {
                    maps[slot.Backbone][slot.View] = _runner.RunWithMap(slot, tensor, output);
                }
            }

            if (parallel && slots.Count > 1)
            {
                Parallel.For(0, slots.Count, new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism }, Run);
            }
            else
            {
                for (var k = 0; k < slots.Count; k++)
                {
                    Run(k);
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

    // Whether some slot of the photo at the path is not cached; false without a cache, or when the file cannot be read.
    private bool NeedsComputing(string path, Scratch scratch)
    {
        if (!_cache.Enabled)
        {
            return false;
        }

        try
        {
            var bytes = _source.Read(path, ref scratch.FileBuffer).Span;
            return _source.Key(bytes) is not { } key || !_cache.IsComplete(key, scratch.ViewOutputs);
        }
        catch (ImageDecodeException)
        {
            return false;
        }
    }

    // Returns null on success, else the reason the photo was skipped.
    private string? TryExtract(ImageEntry image, Scratch scratch, float[] output)
    {
        try
        {
            var bytes = _source.Read(image.Path, ref scratch.FileBuffer).Span;
            var key = _cache.Enabled ? _source.Key(bytes) : null;
            var missing = _cache.ReadCached(key, scratch.ViewOutputs);
            if (missing.Count > 0)
            {
                using (Compute(bytes, image.Path, scratch, missing, maps: null, parallel: false))
                {
                }

                _cache.Store(key, missing, scratch.ViewOutputs);
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
    internal sealed class Scratch(int viewCount, int[] outputLengths, int[] tensorLengths)
    {
        /// <summary>Decode and render buffers.</summary>
        public RenderScratch Render { get; } = new();

        /// <summary>One input tensor per (backbone, view), backbone by backbone.</summary>
        public float[][] Inputs { get; } = tensorLengths.Select(n => new float[n]).ToArray();

        /// <summary>The output of each backbone and view: [backbone][view].</summary>
        public float[][][] ViewOutputs { get; } = outputLengths.Select(n => Enumerable.Range(0, viewCount).Select(_ => new float[n]).ToArray()).ToArray();

        /// <summary>The photo file's bytes (grows up to <see cref="PhotoFile.MaxKeptBuffer"/>).</summary>
        public byte[] FileBuffer = [];
    }
}
