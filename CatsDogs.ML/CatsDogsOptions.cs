using CatsDogs.ML.Backbones;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Training;

namespace CatsDogs.ML;

/// <summary>
/// How to train: <see cref="Features"/> (backbones, views, models folder, cache, device) and <see cref="Head"/>
/// (kind, seed, cross-validation, L2 grid). The flat properties are shortcuts into those two records, so
/// <c>new CatsDogsOptions { Backbones = …, ModelsDirectory = … }</c> reads as one list of settings.
/// </summary>
public sealed record CatsDogsOptions
{
    /// <summary>How photos become features.</summary>
    public FeatureOptions Features { get; init; } = new();

    /// <summary>How the head is fitted.</summary>
    public HeadOptions Head { get; init; } = new();

    /// <summary>Backbones whose pooled features are concatenated, in this order (default ResNet18); see <see cref="FeatureOptions.Backbones"/>.</summary>
    public IReadOnlyList<BackboneSpec> Backbones { get => Features.Backbones; init => Features = Features with { Backbones = value }; }

    /// <summary>The views features are averaged over (default: the photo and its mirror); see <see cref="FeatureOptions.Views"/>.</summary>
    public IReadOnlyList<ImageView> Views { get => Features.Views; init => Features = Features with { Views = value }; }

    /// <summary>Feature cache folder; <c>null</c> for the default. See <see cref="FeatureOptions.CacheDirectory"/>.</summary>
    public string? CacheDirectory { get => Features.CacheDirectory; init => Features = Features with { CacheDirectory = value }; }

    /// <summary>Whether pooled features are cached on disk (default true).</summary>
    public bool UseCache { get => Features.UseCache; init => Features = Features with { UseCache = value }; }

    /// <summary>An extra folder searched first for backbone files (also <c>$CATSDOGS_MODELS_DIR</c>).</summary>
    public string? ModelsDirectory { get => Features.ModelsDirectory; init => Features = Features with { ModelsDirectory = value }; }

    /// <summary>Where the backbones run: <c>cpu</c> (default), <c>cuda</c> or <c>cuda:N</c>; see <see cref="FeatureOptions.Device"/>.</summary>
    public string Device { get => Features.Device; init => Features = Features with { Device = value }; }

    /// <summary>The backbones' arithmetic (default fp32); see <see cref="FeatureOptions.Precision"/>.</summary>
    public Precision Precision { get => Features.Precision; init => Features = Features with { Precision = value }; }

    /// <summary>The kind of head (default logistic); see <see cref="HeadOptions.Kind"/>.</summary>
    public HeadKind HeadKind { get => Head.Kind; init => Head = Head with { Kind = value }; }

    /// <summary>Seed of every random choice (default 42); see <see cref="HeadOptions.Seed"/>.</summary>
    public int Seed { get => Head.Seed; init => Head = Head with { Seed = value }; }

    /// <summary>Cross-validation folds that choose the L2 weight (default 5); see <see cref="HeadOptions.Folds"/>.</summary>
    public int Folds { get => Head.Folds; init => Head = Head with { Folds = value }; }

    /// <summary>Out-of-fold P(own label) below which a training photo is left out as mislabelled (default 0.05).</summary>
    public double MislabelThreshold { get => Head.MislabelThreshold; init => Head = Head with { MislabelThreshold = value }; }

    /// <summary>L2 weights tried by the cross-validation; see <see cref="HeadOptions.L2Grid"/>.</summary>
    public IReadOnlyList<float> L2Grid { get => Head.L2Grid; init => Head = Head with { L2Grid = value }; }

    /// <summary>Worker threads for feature extraction and the cross-validation (default: all cores).</summary>
    public int MaxDegreeOfParallelism
    {
        get => Features.MaxDegreeOfParallelism;
        init
        {
            Features = Features with { MaxDegreeOfParallelism = value };
            Head = Head with { MaxDegreeOfParallelism = value };
        }
    }
}
