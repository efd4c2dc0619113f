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

    /// <summary>Seed of every random choice (validation split); the same seed and data give the same model.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Share of each class held out to choose the head's regularisation (default 0.2).</summary>
    public double ValidationFraction { get; init; } = 0.2;

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
    /// L2 weights tried for the logistic head; the one with the lowest validation log loss wins. Strong L2 is
    /// the measured optimum on pooled ImageNet features; weak L2 overfits.
    /// </summary>
    public IReadOnlyList<float> L2Grid { get; init; } = [1f, 3f, 10f, 30f, 100f, 300f, 1000f];

    /// <summary>Worker threads for feature extraction and the regularisation search (default: all cores).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;
}
