using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx.Quantization;

namespace CatsDogs.ML.Features;

/// <summary>How photos become features: which backbones, which views, where their files and cached features are, where they run.</summary>
public sealed record FeatureOptions
{
    /// <summary>
    /// Backbones whose pooled features are concatenated, in this order. Defaults to <see cref="KnownBackbones.ResNet18"/>.
    /// Any <see cref="BackboneSpec"/> works, including your own.
    /// </summary>
    public IReadOnlyList<BackboneSpec> Backbones { get; init; } = [KnownBackbones.ResNet18];

    /// <summary>
    /// The views each photo is shown in; every backbone's features are averaged over them, in order (test-time
    /// augmentation: each view costs one backbone run). Recorded in saved models. Default <see cref="ImageView.Defaults"/>
    /// (the photo and its mirror image in each backbone's own framing), chosen by the unseen-photo log loss with cost on
    /// the table (docs/results.md).
    /// </summary>
    public IReadOnlyList<ImageView> Views { get; init; } = ImageView.Defaults;

    /// <summary>
    /// Folder of the feature cache; <c>null</c> for the default (<c>$CATSDOGS_CACHE_DIR</c>, else the user's cache
    /// folder). Set <see cref="UseCache"/> to false to disable caching.
    /// </summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Whether pooled features are cached on disk (default true).</summary>
    public bool UseCache { get; init; } = true;

    /// <summary>An extra folder searched first for backbone files (also <c>$CATSDOGS_MODELS_DIR</c>).</summary>
    public string? ModelsDirectory { get; init; }

    /// <summary>
    /// Where the backbones run: <c>cpu</c> (default), or <c>cuda</c> / <c>cuda:N</c> with the
    /// Microsoft.ML.OnnxRuntime.Gpu package; an unusable GPU falls back to CPU with a notice.
    /// </summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// The backbones' arithmetic (default <see cref="Features.Precision.Auto"/>: int8 where the CPU runs it fast, see
    /// <see cref="TrainingPrecision"/>). With <see cref="Features.Precision.Int8"/> training calibrates each backbone on
    /// <see cref="CalibrationPhotos"/> training photos and runs its QDQ graph, built in memory from the float32 file; the
    /// saved model records the calibration. Int8 runs on the CPU only.
    /// </summary>
    public Precision Precision { get; init; } = Precision.Auto;

    /// <summary>
    /// The precision training runs in: <see cref="Precision"/>, or for <see cref="Features.Precision.Auto"/> int8 where the
    /// backbones run on the CPU, the CPU has 8-bit dot-product instructions (<see cref="Precisions.CpuHasInt8DotProduct"/>)
    /// and every backbone names its feature map, else fp32 (docs/quantization.md, "int8 by default").
    /// </summary>
    public Precision TrainingPrecision => Precision != Precision.Auto ? Precision
        : ExecutionDevice.Parse(Device) is null && Precisions.CpuHasInt8DotProduct && Backbones.All(b => b.CanRunInt8) ? Precision.Int8
        : Precision.Fp32;

    /// <summary>These options with <see cref="Features.Precision.Auto"/> read as fp32: for features computed without training, which cannot calibrate.</summary>
    internal FeatureOptions AutoAsFp32 => Precision == Precision.Auto ? this with { Precision = Precision.Fp32 } : this;

    /// <summary>With <see cref="Features.Precision.Int8"/>: training photos each backbone is calibrated on, drawn stratified by label with the head's seed (default 200).</summary>
    public int CalibrationPhotos { get; init; } = DefaultCalibrationPhotos;

    /// <summary>The default of <see cref="CalibrationPhotos"/>.</summary>
    public const int DefaultCalibrationPhotos = 200;

    /// <summary>With <see cref="Features.Precision.Int8"/>: one calibration per backbone, in order (made by training, read from a saved model).</summary>
    internal IReadOnlyList<QuantizationCalibration>? Calibrations { get; init; }

    /// <summary>Worker threads for feature extraction (default: all cores).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Largest photo file read, in bytes (default 64 MiB); a larger file is skipped with that reason.</summary>
    public long MaxPhotoBytes { get; init; } = Data.PhotoFile.DefaultMaxBytes;

    /// <summary>
    /// Opens the backbones these options name, at their own input size and at every size a view asks for; the caller
    /// owns (disposes) the set.
    /// </summary>
    /// <param name="expectedSha256">The file hashes a saved model was trained with, if any.</param>
    /// <param name="withFeatureMaps">Also expose the feature maps (for explaining).</param>
    /// <exception cref="InvalidOperationException">Int8 without calibrations (training makes them).</exception>
    internal BackboneSet OpenBackbones(IReadOnlyList<string?>? expectedSha256 = null, bool withFeatureMaps = false) =>
        BackboneSet.Open(Backbones, ModelsDirectory, expectedSha256, Device, withFeatureMaps, Views.Select(v => v.InputSize), Precision == Precision.Int8
            ? Calibrations ?? throw new InvalidOperationException("Int8 backbones need a calibration each: train with Precision = Int8, or load a model trained so.")
            : null);

    /// <summary>Checks every value; the message names the wrong one.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public FeatureOptions Validate()
    {
        if (Backbones is not { Count: > 0 })
        {
            throw new ArgumentException("Choose at least one backbone.");
        }

        foreach (var spec in Backbones)
        {
            BackboneSpecChecks.ThrowIfInvalid(spec ?? throw new ArgumentException("A backbone is missing (null)."));
        }

        ImageView.CheckList(Views);
        foreach (var spec in Backbones.Where(s => !s.ScalableInput))
        {
            if (Views.FirstOrDefault(v => v.InputFor(spec.Preprocessing) != spec.Preprocessing) is { } view)
            {
                throw new ArgumentException($"View '{view}' asks backbone '{spec.Name}' for another input size, but it cannot take one (its graph does not pool globally at every size, or it subtracts a fixed-size mean image).");
            }
        }
        if (MaxDegreeOfParallelism is < 1 or > 1024)
        {
            throw new ArgumentException($"MaxDegreeOfParallelism {MaxDegreeOfParallelism} is outside 1…1024.");
        }

        if (MaxPhotoBytes < 1)
        {
            throw new ArgumentException($"MaxPhotoBytes {MaxPhotoBytes} must be positive.");
        }

        if (ExecutionDevice.Parse(Device) is not null && Precision == Precision.Int8)
        {
            throw new ArgumentException($"Device '{Device}' cannot run int8 backbones: CatsDogs.ML runs int8 on the CPU only (docs/quantization.md); use the CPU, or train with precision fp32 to run on CUDA.");
        }

        if (!Enum.IsDefined(Precision))
        {
            throw new ArgumentException($"Precision {(int)Precision} is not one of {string.Join(", ", Precisions.Names)}.");
        }

        if (CalibrationPhotos is < 2 or > 100_000)
        {
            throw new ArgumentException($"CalibrationPhotos {CalibrationPhotos} is outside 2…100000.");
        }

        if (Precision == Precision.Int8 && Backbones.FirstOrDefault(s => !s.CanRunInt8) is { } unmapped)
        {
            throw new ArgumentException($"Backbone '{unmapped.Name}' cannot run in int8: its spec names no FeatureMapName (the last tensor quantized).");
        }

        return this;
    }
}
