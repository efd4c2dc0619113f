using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using CatsDogs.ML.Explain;
using CatsDogs.ML.Features;
using CatsDogs.ML.Persistence;
using CatsDogs.ML.Training;

namespace CatsDogs.ML;

/// <summary>
/// A trained cats-vs-dogs classifier: backbones + logistic head, returning P(dog). Get one from
/// <see cref="CatsDogsTrainer.Train"/> or <see cref="Load"/>; dispose it to release the ONNX Runtime sessions.
/// All members are safe to call from several threads at once, except <see cref="Dispose"/>.
/// </summary>
public sealed class CatsDogsClassifier : IDisposable
{
    private readonly Backbone[] _backbones;
    private readonly LogisticHead _head;
    private readonly FeatureExtractor _extractor;
    private readonly Lazy<ClassActivationMapper> _mapper;
    private Backbone[]? _explainBackbones;
    private bool _disposed;

    internal CatsDogsClassifier(Backbone[] backbones, LogisticHead head, FeatureExtractor extractor, TrainingSummary? training, string? modelsDirectory, string device)
    {
        _backbones = backbones;
        _head = head;
        _extractor = extractor;
        Training = training;

        // Explaining needs each backbone's feature map as an output, which costs memory (see Backbone.Open); the
        // sessions that expose it are opened on the first Explain, from the very files the model was loaded with.
        _mapper = new Lazy<ClassActivationMapper>(() =>
        {
            _explainBackbones = Backbone.OpenAll(backbones.Select(b => b.Spec).ToArray(), modelsDirectory, backbones.Select(b => (string?)b.ModelSha256).ToArray(), device, withFeatureMap: true);
            return new ClassActivationMapper(_explainBackbones, _head, _extractor.AverageWithMirror);
        });
    }

    /// <summary>The backbones whose features feed the head, in concatenation order.</summary>
    public IReadOnlyList<BackboneSpec> Backbones => _backbones.Select(b => b.Spec).ToArray();

    /// <summary>
    /// The ONNX Runtime execution provider of each backbone (<c>CPU</c> or <c>CUDA:N</c>), with the reason when a
    /// requested GPU was not usable.
    /// </summary>
    public IReadOnlyList<(string Backbone, string Provider, string? Notice)> ExecutionProviders =>
        _backbones.Select(b => (b.Spec.Name, b.ExecutionProvider, b.ProviderNotice)).ToArray();

    /// <summary>What training did (regularisation search, skipped photos); <c>null</c> for a model trained by an older version.</summary>
    public TrainingSummary? Training { get; }

    /// <summary>P(dog) for the photo at <paramref name="path"/>.</summary>
    /// <exception cref="ImageDecodeException">The file cannot be read or decoded; the message names it and says why.</exception>
    public DogPrediction Predict(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Predict(ReadPhoto(path), path);
    }

    /// <summary>P(dog) for an encoded photo read from <paramref name="stream"/>.</summary>
    public DogPrediction Predict(Stream stream, string source = "stream")
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Predict(copy.GetBuffer().AsSpan(0, (int)copy.Length), source);
    }

    /// <summary>P(dog) for an encoded photo (JPEG, PNG, BMP, WebP, GIF) held in memory.</summary>
    public DogPrediction Predict(ReadOnlySpan<byte> encodedImage, string source = "bytes")
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var features = _extractor.ExtractOne(encodedImage, source);
        return new DogPrediction(source, _head.Predict([features])[0]);
    }

    /// <summary>Scores many photos; each is either scored or listed as skipped with its reason, in input order.</summary>
    public BatchPrediction PredictMany(IEnumerable<ImageEntry> images, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var extracted = _extractor.Extract(images as IReadOnlyList<ImageEntry> ?? images.ToArray(), progress, cancellationToken);
        var probabilities = extracted.Features.Count == 0 ? [] : _head.Predict(extracted.Features);
        var scored = extracted.Images.Select((image, i) => new ImagePrediction(image, probabilities[i])).ToArray();
        return new BatchPrediction(scored, extracted.Skipped);
    }

    /// <summary>Scores every image under <paramref name="directory"/> (see <see cref="ImageDataset.FromFolder"/>).</summary>
    public BatchPrediction PredictFolder(string directory, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default) =>
        PredictMany(ImageDataset.FromFolder(directory), progress, cancellationToken);

    /// <summary>
    /// Explains the prediction for the photo at <paramref name="path"/>: P(dog), each backbone's class activation map,
    /// the combined map in the photo's pixels and a heatmap overlay (<see cref="Explanation.SaveOverlayPng"/>).
    /// </summary>
    /// <exception cref="ImageDecodeException">The file cannot be read or decoded; the message names it and says why.</exception>
    public Explanation Explain(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Explain(ImageEntry.FromPath(path), ReadPhoto(path));
    }

    /// <summary>Explains the prediction for an encoded photo held in memory.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public Explanation Explain(ReadOnlySpan<byte> encodedImage, string source = "bytes")
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _mapper.Value.Explain(encodedImage, new ImageEntry(source, null, null));
    }

    /// <summary>
    /// Explains many photos concurrently; each is either explained or listed as skipped with its reason, in input
    /// order. The results equal those of <see cref="Explain(string)"/> one by one.
    /// </summary>
    public ExplainedBatch ExplainMany(IEnumerable<ImageEntry> images, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var list = images as IReadOnlyList<ImageEntry> ?? images.ToArray();
        var results = new Explanation?[list.Count];
        var reasons = new string?[list.Count];
        var done = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = _extractor.MaxDegreeOfParallelism, CancellationToken = cancellationToken };
        Parallel.For(0, list.Count, options, i =>
        {
            try
            {
                results[i] = Explain(list[i], ReadPhoto(list[i].Path));
            }
            catch (ImageDecodeException e)
            {
                reasons[i] = e.Reason;
            }

            progress?.Report(new CatsDogsProgress("explain", Interlocked.Increment(ref done), list.Count));
        });

        return new ExplainedBatch(
            results.OfType<Explanation>().ToArray(),
            Enumerable.Range(0, list.Count).Where(i => reasons[i] is not null).Select(i => new SkippedImage(list[i], reasons[i]!)).ToArray());
    }

    /// <summary>Scores labelled photos and reports log loss, accuracy, AUC, the confusion matrix and the worst photos.</summary>
    /// <exception cref="ArgumentException">A photo is unlabelled, or none could be scored.</exception>
    public EvaluationReport Evaluate(IEnumerable<ImageEntry> data, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var prediction = PredictMany(data, progress, cancellationToken);
        return EvaluationReport.Create(prediction.Scored, prediction.Skipped);
    }

    /// <summary>
    /// Saves a versioned bundle: a manifest (format version, backbones with their specs and file hashes, training
    /// summary) around ML.NET's own model zip. The backbone files themselves are not copied.
    /// </summary>
    public void Save(string path)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ModelBundle.Save(path, _backbones, _head, _extractor.AverageWithMirror, Training);
    }

    /// <summary>
    /// Loads a bundle written by <see cref="Save"/>, reopening its backbones from the models directories and
    /// refusing files whose hash differs from the ones it was trained with.
    /// </summary>
    /// <param name="path">The bundle.</param>
    /// <param name="modelsDirectory">An extra folder searched first for backbone files.</param>
    /// <param name="cacheDirectory">Feature cache for batch scoring; <c>null</c> for the default folder.</param>
    /// <param name="useCache">Whether batch scoring reads and writes the feature cache.</param>
    /// <exception cref="ModelBundleException">The bundle is unreadable, tampered with or from a newer format.</exception>
    /// <exception cref="BackboneFileNotFoundException">A backbone file is missing.</exception>
    /// <param name="device">Where the backbones run: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> (see <see cref="CatsDogsOptions.Device"/>).</param>
    /// <exception cref="BackboneMismatchException">A backbone file differs from the one the model was trained with.</exception>
    public static CatsDogsClassifier Load(string path, string? modelsDirectory = null, string? cacheDirectory = null, bool useCache = true, string device = "cpu")
    {
        var model = ModelBundle.Load(path);
        var backbones = Backbone.OpenAll(model.Specs, modelsDirectory, model.Hashes, device);
        var options = new CatsDogsOptions { CacheDirectory = cacheDirectory, UseCache = useCache, AverageWithMirror = model.AverageWithMirror };
        return new CatsDogsClassifier(backbones, model.Head, FeatureExtractor.Create(backbones, options), model.Training, modelsDirectory, device);
    }

    private Explanation Explain(ImageEntry image, byte[] bytes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _mapper.Value.Explain(bytes, image);
    }

    private static byte[] ReadPhoto(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ImageDecodeException(path, "the file does not exist.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(path, $"the file cannot be read: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var backbone in _backbones.Concat(_explainBackbones ?? []))
        {
            backbone.Dispose();
        }
    }
}
