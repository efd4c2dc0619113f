using CatsDogs.ML.Backbones;

namespace CatsDogs.ML;

/// <summary>How to train: which backbones, the seed, the validation share and where features are cached.</summary>
public sealed record CatsDogsOptions
{
    /// <summary>
    /// Backbones whose pooled features are concatenated, in this order. Defaults to <see cref="KnownBackbones.ResNet18"/>.
    /// Any <see cref="BackboneSpec"/> works, including your own.
    /// </summary>
    public IReadOnlyList<BackboneSpec> Backbones { get; init; } = [KnownBackbones.ResNet18];

    /// <summary>Seed of every random choice (cross-validation folds, fusion-report split); the same seed and data give the same model.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Stratified folds of the cross-validation that chooses the head's L2 weight (default 5).</summary>
    public int Folds { get; init; } = 5;

    /// <summary>
    /// Training photos whose out-of-fold P(own label) is below this are treated as mislabelled (e.g. a "dog" photo
    /// that is a shelter sign) and left out of the final fit, as the original work cleaned its outliers; at most 2% of
    /// the photos. They are listed in <see cref="TrainingSummary.Excluded"/>. 0 keeps every photo. Default 0.05.
    /// </summary>
    public double MislabelThreshold { get; init; } = 0.05;

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
    /// L2 weights tried for the logistic head; the one with the lowest cross-validated log loss wins. Strong L2 is
    /// the measured optimum on pooled ImageNet features; weak L2 overfits.
    /// </summary>
    public IReadOnlyList<float> L2Grid { get; init; } = [3f, 10f, 20f, 30f, 50f, 100f, 200f, 300f, 1000f];

    /// <summary>
    /// Whether each backbone's features are averaged over the photo and its left-right mirror image (test-time
    /// augmentation, twice the backbone work). Recorded in saved models. Default true: it lowered the log loss of
    /// every backbone measured (README, "Results").
    /// </summary>
    public bool AverageWithMirror { get; init; } = true;

    /// <summary>
    /// Where the backbones run: <c>cpu</c> (default), or <c>cuda</c> / <c>cuda:N</c> with the
    /// Microsoft.ML.OnnxRuntime.Gpu package; an unusable GPU falls back to CPU and says so in
    /// <see cref="CatsDogsClassifier.ExecutionProviders"/>.
    /// </summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Worker threads for feature extraction and the regularisation search (default: all cores).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;
}
