using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;

namespace CatsDogs.ML.Features;

/// <summary>
/// The backbones and views of a <see cref="FeatureOptions"/>, opened: photos in, features out, through the very
/// pipeline the classifier scores and trains with (the same decoding, views, tensors, view averaging and feature
/// cache), without a head. Use it to feed features to your own ML.NET trainer
/// (<see cref="CatsDogsCatalog.LoadFeatures"/>), or to compute features on other machines: a feature worker returns
/// <see cref="ExtractViews"/>, the trainer <see cref="Store"/>s it. Dispose it to release the ONNX Runtime sessions.
/// All members are safe to call from several threads at once, except <see cref="Dispose"/>.
/// </summary>
public sealed class FeaturePipeline : IDisposable
{
    private readonly BackboneSet _backbones;
    private readonly FeatureExtractor _extractor;
    private bool _disposed;

    private FeaturePipeline(FeatureOptions options, BackboneSet backbones)
    {
        Options = options;
        _backbones = backbones;
        _extractor = FeatureExtractor.Create(backbones, options);
    }

    /// <summary>Checks <paramref name="options"/> and opens their backbones (<see cref="Precision.Auto"/> opens them in float32).</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="BackboneFileNotFoundException">A backbone file is missing.</exception>
    /// <exception cref="BackboneMismatchException">A backbone file does not match its spec.</exception>
    /// <exception cref="InvalidOperationException">
    /// <see cref="FeatureOptions.Precision"/> is int8: only training (which calibrates) and a saved int8 model open int8 backbones.
    /// </exception>
    public static FeaturePipeline Open(FeatureOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options = options.AutoAsFp32.Validate();
        var backbones = options.OpenBackbones();
        try
        {
            return new FeaturePipeline(options, backbones);
        }
        catch
        {
            backbones.Dispose();
            throw;
        }
    }

    /// <summary>The options it was opened with.</summary>
    public FeatureOptions Options { get; }

    /// <summary>Length of a feature vector: the backbones' feature dimensions added up.</summary>
    public int Dimension => _extractor.Dimension;

    /// <summary>
    /// A digest of what the features depend on besides the photo (each backbone file and spec, each view): equal on
    /// two machines exactly when their features are interchangeable. The broker names its feature queue after it.
    /// </summary>
    public string Identity => _extractor.IdentityHash;

    /// <summary>The features of one encoded photo, computed (not read from the cache), its views run concurrently.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public float[] Extract(ReadOnlySpan<byte> encodedImage, string source = "bytes")
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _extractor.ExtractOne(encodedImage, source);
    }

    /// <summary>
    /// The features of many photos, one photo per core, through the feature cache; a photo that cannot be read or
    /// decoded is listed in <see cref="ExtractedFeatures.Skipped"/> with its reason, never thrown.
    /// </summary>
    public ExtractedFeatures ExtractMany(IEnumerable<ImageEntry> images, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _extractor.Extract(images as IReadOnlyList<ImageEntry> ?? images.ToArray(), progress, cancellationToken);
    }

    /// <summary>The output of every (backbone, view) for one encoded photo, computed, with what their cache keys are made of.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public ViewOutputs ExtractViews(ReadOnlySpan<byte> encodedImage, string source = "bytes")
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _extractor.ExtractViews(encodedImage, source);
    }

    /// <summary>
    /// The photos whose features are not all in the cache yet, in input order; none without a cache. A photo that
    /// cannot be read is not listed (extraction reports it).
    /// </summary>
    public IReadOnlyList<ImageEntry> Uncached(IReadOnlyList<ImageEntry> photos, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(photos);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _extractor.Uncached(photos, cancellationToken);
    }

    /// <summary>
    /// Writes outputs computed elsewhere (<see cref="ExtractViews"/>) into the cache, under the keys extraction reads.
    /// Refused (false), writing nothing, when they come from a pipeline of another <see cref="Identity"/>, when their
    /// shape or a value is wrong, or when the cache is off.
    /// </summary>
    public bool Store(ViewOutputs outputs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _extractor.Store(outputs);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _backbones.Dispose();
        }
    }
}
