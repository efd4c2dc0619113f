using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using CatsDogs.ML.Explain;
using CatsDogs.ML.Export;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Persistence;
using CatsDogs.ML.Training;
using Google.Protobuf;

namespace CatsDogs.ML;

/// <summary>
/// A trained cats-vs-dogs classifier: backbones + a head (<see cref="Head"/>), returning P(dog). Get one from
/// <see cref="CatsDogsTrainer.Train"/> or <see cref="Load(string, string?, string?, bool, string)"/>; dispose it to release the ONNX Runtime sessions.
/// All members are safe to call from several threads at once, except <see cref="Dispose"/>.
/// </summary>
public sealed class CatsDogsClassifier : IDisposable
{
    private readonly BackboneSet _backbones;
    private readonly FeatureExtractor _extractor;
    private readonly IHead _head;
    private readonly FeatureOptions _features;
    private bool _disposed;

    internal CatsDogsClassifier(BackboneSet backbones, FeatureExtractor extractor, IHead head, TrainingSummary? training, FeatureOptions features, DateTime createdUtc)
    {
        _backbones = backbones;
        _extractor = extractor;
        _head = head;
        _features = features;
        Training = training;
        CreatedUtc = createdUtc;
    }

    /// <summary>The backbones whose features feed the head, in concatenation order.</summary>
    public IReadOnlyList<BackboneSpec> Backbones => _backbones.Specs;

    /// <summary>The views each backbone's features are averaged over.</summary>
    public IReadOnlyList<ImageView> Views => _extractor.Views;

    /// <summary>
    /// The ONNX Runtime execution provider of each backbone (<c>CPU</c> or <c>CUDA:N</c>), with the reason when a
    /// requested GPU was not usable.
    /// </summary>
    public IReadOnlyList<(string Backbone, string Provider, string? Notice)> ExecutionProviders => _backbones.Providers;

    /// <summary>The kind of head on the features; <see cref="HeadKinds.Capabilities"/> says what it can do.</summary>
    public HeadKind Head => _head.Kind;

    /// <summary>What training did (regularisation search, photos left out); <c>null</c> when not recorded.</summary>
    public TrainingSummary? Training { get; }

    /// <summary>When the model was trained (UTC).</summary>
    public DateTime CreatedUtc { get; }

    /// <summary>The arithmetic its backbones run in (recorded in the saved model); explaining and export follow it.</summary>
    public Precision Precision => _features.Precision;

    /// <summary>Its backbones' int8 calibrations, in order; null in float32.</summary>
    internal IReadOnlyList<Onnx.Quantization.QuantizationCalibration>? Calibrations => _backbones.Calibrations;

    /// <summary>P(dog) for the photo at <paramref name="path"/>.</summary>
    /// <exception cref="ImageDecodeException">The file cannot be read or decoded; the message names it and says why.</exception>
    public DogPrediction Predict(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var buffer = Array.Empty<byte>();
        return Predict(PhotoFile.Read(path, _features.MaxPhotoBytes, ref buffer).Span, path);
    }

    /// <summary>P(dog) for an encoded photo read from <paramref name="stream"/> (at most the photo size limit).</summary>
    /// <exception cref="ImageDecodeException">The stream holds more than the limit, or not a usable image.</exception>
    public DogPrediction Predict(Stream stream, string source = "stream")
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var copy = new MemoryStream();
        var buffer = new byte[81920];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            if (copy.Length + read > _features.MaxPhotoBytes)
            {
                throw new ImageDecodeException(source, $"the stream holds more than the photo size limit of {_features.MaxPhotoBytes:N0} bytes.");
            }

            copy.Write(buffer, 0, read);
        }

        return Predict(copy.GetBuffer().AsSpan(0, (int)copy.Length), source);
    }

    /// <summary>P(dog) for an encoded photo (JPEG, PNG, BMP, WebP, GIF) held in memory.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public DogPrediction Predict(ReadOnlySpan<byte> encodedImage, string source = "bytes") => Predict(encodedImage, source, parallelViews: true);

    /// <summary>
    /// P(dog) for an encoded photo, its views run one after the other when <paramref name="parallelViews"/> is
    /// false: for callers that score one photo per core already (broker workers). The same floats either way.
    /// </summary>
    public DogPrediction Predict(ReadOnlySpan<byte> encodedImage, string source, bool parallelViews)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var features = _extractor.ExtractOne(encodedImage, source, parallelViews);
        return new DogPrediction(source, _head.Predict([features])[0]);
    }

    /// <summary>The largest photo file this model reads (<see cref="ModelLoadOptions.MaxPhotoBytes"/>).</summary>
    public long MaxPhotoBytes => _features.MaxPhotoBytes;

    /// <summary>The short side this model decodes photos at (see <see cref="FeatureExtractor.DecodeSize"/>).</summary>
    internal int DecodeSize => _extractor.DecodeSize;

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
        PredictMany(ImageDataset.FromFolder(directory, cancellationToken: cancellationToken), progress, cancellationToken);

    /// <summary>Scores labelled photos and reports log loss, accuracy, AUC, the confusion matrix and the worst photos.</summary>
    /// <exception cref="ArgumentException">A photo is unlabelled, or none could be scored.</exception>
    public EvaluationReport Evaluate(IEnumerable<ImageEntry> data, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var photos = data as IReadOnlyList<ImageEntry> ?? data.ToArray();
        LabelChecks.RequireLabels(photos, "evaluation");
        var prediction = PredictMany(photos, progress, cancellationToken);
        return EvaluationReport.Create(prediction.Scored, prediction.Skipped);
    }

    /// <summary>
    /// Opens an <see cref="Explainer"/> for this model: one more session per backbone that also outputs its feature
    /// map, from the very files the model was loaded with. Dispose it when done. Opening again after a failure
    /// (e.g. a file that was missing) tries afresh.
    /// </summary>
    /// <exception cref="BackboneFileNotFoundException">A backbone file is missing.</exception>
    /// <exception cref="BackboneMismatchException">A backbone file differs from the one the model was loaded with.</exception>
    /// <exception cref="InvalidOperationException">The head has no linear form (<see cref="HeadCapabilities.HasLinearForm"/>), which CAM needs.</exception>
    public Explainer CreateExplainer()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _ = _head.LinearForm ?? throw HeadTrainers.NoLinearForm(_head.Kind, "Explaining (CAM)");
        var backbones = _features.OpenBackbones(_backbones.Hashes, withFeatureMaps: true);
        try
        {
            return new Explainer(backbones, _extractor.Views, _head, _features.MaxDegreeOfParallelism, _features.MaxPhotoBytes);
        }
        catch
        {
            backbones.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes this classifier as one self-contained ONNX model (input <c>image</c>, outputs <c>dog_probability</c> and
    /// <c>label</c>, optionally <c>cam</c>) that ONNX Runtime, ML.NET's <c>ApplyOnnxModel</c>, onnxruntime-web or a phone
    /// can run without this library; the input contract is in the result and in the file's <c>metadata_props</c>.
    /// The backbone files are read again and must still be the ones the model was loaded with.
    /// </summary>
    /// <exception cref="ArgumentException">The output path is the model or a folder, or the contract cannot serve the model's views.</exception>
    /// <exception cref="BackboneMismatchException">A backbone file changed since the model was loaded; the message names it and the fix.</exception>
    /// <exception cref="InvalidOperationException">The head has no linear form (<see cref="HeadCapabilities.HasLinearForm"/>), which the export needs.</exception>
    public OnnxExportResult ExportOnnx(string path, OnnxExportOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _ = _head.LinearForm ?? throw HeadTrainers.NoLinearForm(_head.Kind, "ONNX export");
        var output = OutputFile.Prepare(path, _backbones.Select(b => b.ModelPath));
        var files = _backbones.Select(b =>
        {
            var bytes = ModelFiles.Read(b.ModelPath, b.Spec);
            var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
            return sha != b.ModelSha256
                ? throw new BackboneMismatchException(b.ModelPath,
                    $"'{b.ModelPath}' for backbone '{b.Spec.Name}' changed since the model was loaded (SHA-256 {sha}, the model was trained with {b.ModelSha256}). Put the original file back and load the model again. {b.Spec.HowToObtain}")
                // An int8 model exports the QDQ graph its sessions run, rebuilt from the file and its calibration.
                : b.Calibration is { } calibration ? Backbone.Quantized(bytes, calibration, b.ModelPath, b.Spec) : bytes;
        }).ToArray();
        var (model, input, contract) = OnnxExporter.Build(_backbones, files, _extractor.Views, _head, Training, CreatedUtc, options ?? new OnnxExportOptions());
        OutputFile.Write(output, stream => model.WriteTo(stream));
        return new OnnxExportResult(output, input, contract, new FileInfo(output).Length, OnnxExporter.Opset);
    }

    /// <summary>
    /// Saves a versioned bundle: a manifest (format version, backbones with their specs and file hashes, views, head
    /// kind, precision, training summary, hashes of the other entries) and its digest around ML.NET's own model zip. The backbone files
    /// themselves are not copied. Written through a temporary file: a failure leaves a previous file intact.
    /// </summary>
    /// <param name="path">The bundle to write.</param>
    /// <param name="signingKey">Also sign the manifest (HMAC-SHA256) with this key, for deployments that load only signed models.</param>
    public void Save(string path, byte[]? signingKey = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ModelBundle.Save(path, new SavedModel(_backbones.Specs, _backbones.Hashes, _extractor.Views, _head, Training, CreatedUtc)
        {
            Precision = Precisions.Name(_features.Precision),
            Calibrations = _backbones.Calibrations,
        }, signingKey);
    }

    /// <summary>
    /// Loads a bundle written by <see cref="Save"/>, reopening its backbones from the models directories and
    /// refusing files whose hash differs from the ones it was trained with.
    /// </summary>
    /// <param name="path">The bundle.</param>
    /// <param name="modelsDirectory">An extra folder searched first for backbone files.</param>
    /// <param name="cacheDirectory">Feature cache for batch scoring; <c>null</c> for the default folder.</param>
    /// <param name="useCache">Whether batch scoring reads and writes the feature cache.</param>
    /// <param name="device">Where the backbones run: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</param>
    /// <exception cref="ModelBundleException">The bundle is unreadable, tampered with or from another format.</exception>
    /// <exception cref="BackboneFileNotFoundException">A backbone file is missing.</exception>
    /// <exception cref="BackboneMismatchException">A backbone file differs from the one the model was trained with.</exception>
    public static CatsDogsClassifier Load(string path, string? modelsDirectory = null, string? cacheDirectory = null, bool useCache = true, string device = "cpu") =>
        Load(path, new ModelLoadOptions { ModelsDirectory = modelsDirectory, CacheDirectory = cacheDirectory, UseCache = useCache, Device = device });

    /// <summary>Loads a bundle written by <see cref="Save"/> with the given options (a signing key among them).</summary>
    /// <exception cref="ModelBundleException">The bundle is unreadable, tampered with, unsigned where a key is given, or from another format.</exception>
    /// <exception cref="BackboneFileNotFoundException">A backbone file is missing.</exception>
    /// <exception cref="BackboneMismatchException">A backbone file differs from the one the model was trained with.</exception>
    /// <remarks>Every saved-model format since CatsDogs.ML 0.2.0 loads, and scores as it did when it was saved.</remarks>
    public static CatsDogsClassifier Load(string path, ModelLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var model = ModelBundle.Load(path, options.SigningKey);
        var features = new FeatureOptions
        {
            Backbones = model.Specs,
            Views = model.Views,
            ModelsDirectory = options.ModelsDirectory,
            CacheDirectory = options.CacheDirectory,
            UseCache = options.UseCache,
            Device = options.Device,
            MaxDegreeOfParallelism = options.MaxDegreeOfParallelism,
            MaxPhotoBytes = options.MaxPhotoBytes,
            Precision = Precisions.Parse(model.Precision) ?? Precision.Fp32,
            Calibrations = model.Calibrations,
        }.Validate();
        var backbones = features.OpenBackbones(model.Hashes);
        try
        {
            return new CatsDogsClassifier(backbones, FeatureExtractor.Create(backbones, features), model.Head, model.Training, features, model.CreatedUtc);
        }
        catch
        {
            backbones.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads what a saved model says about itself (format, backbones with their file hashes, views, head, precision,
    /// training) without opening its backbones; the checks are those of <see cref="Load(string, ModelLoadOptions)"/>.
    /// </summary>
    /// <param name="path">The bundle.</param>
    /// <param name="signingKey">When given, the bundle must be signed with it.</param>
    /// <exception cref="ModelBundleException">The bundle is unreadable, tampered with, unsigned where a key is given, or from an unknown format.</exception>
    public static ModelInfo Inspect(string path, byte[]? signingKey = null)
    {
        var model = ModelBundle.Load(path, signingKey);
        return new ModelInfo(
            Path.GetFullPath(path),
            model.FormatVersion,
            model.Library,
            model.CreatedUtc,
            model.Specs.Select((s, i) => new ModelBackbone(s.Name, s.FileName, s.FeatureDimension, model.Hashes[i])).ToArray(),
            model.Views,
            model.Head.Kind,
            HeadKinds.Capabilities(model.Head.Kind),
            model.Precision,
            model.Training);
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
