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
    // The shortcuts are kept apart from the two records and applied when they are read, so a shortcut wins over the
    // record's own field whatever the order of the initializer: { Backbones = …, Features = … } keeps the backbones.
    private readonly FeatureOptions _features = new();
    private readonly HeadOptions _head = new();
    private readonly Func<FeatureOptions, FeatureOptions> _featureShortcuts = f => f;
    private readonly Func<HeadOptions, HeadOptions> _headShortcuts = h => h;

    /// <summary>How photos become features, with the shortcuts below applied (they win over this record's own fields).</summary>
    public FeatureOptions Features { get => _featureShortcuts(_features); init => _features = value; }

    /// <summary>How the head is fitted, with the shortcuts below applied (they win over this record's own fields).</summary>
    public HeadOptions Head { get => _headShortcuts(_head); init => _head = value; }

    /// <summary>Backbones whose pooled features are concatenated, in this order (default <see cref="FeatureOptions.Backbones"/>'s).</summary>
    public IReadOnlyList<BackboneSpec> Backbones { get => Features.Backbones; init => _featureShortcuts = Then(_featureShortcuts, f => f with { Backbones = value }); }

    /// <summary>The views features are averaged over (default <see cref="ImageView.Defaults"/>); see <see cref="FeatureOptions.Views"/>.</summary>
    public IReadOnlyList<ImageView> Views { get => Features.Views; init => _featureShortcuts = Then(_featureShortcuts, f => f with { Views = value }); }

    /// <summary>Feature cache folder; <c>null</c> for the default. See <see cref="FeatureOptions.CacheDirectory"/>.</summary>
    public string? CacheDirectory { get => Features.CacheDirectory; init => _featureShortcuts = Then(_featureShortcuts, f => f with { CacheDirectory = value }); }

    /// <summary>Whether pooled features are cached on disk; see <see cref="FeatureOptions.UseCache"/>.</summary>
    public bool UseCache { get => Features.UseCache; init => _featureShortcuts = Then(_featureShortcuts, f => f with { UseCache = value }); }

    /// <summary>An extra folder searched first for backbone files (also <c>$CATSDOGS_MODELS_DIR</c>).</summary>
    public string? ModelsDirectory { get => Features.ModelsDirectory; init => _featureShortcuts = Then(_featureShortcuts, f => f with { ModelsDirectory = value }); }

    /// <summary>Where the backbones run: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>; see <see cref="FeatureOptions.Device"/>.</summary>
    public string Device { get => Features.Device; init => _featureShortcuts = Then(_featureShortcuts, f => f with { Device = value }); }

    /// <summary>The backbones' arithmetic; see <see cref="FeatureOptions.Precision"/>.</summary>
    public Precision Precision { get => Features.Precision; init => _featureShortcuts = Then(_featureShortcuts, f => f with { Precision = value }); }

    /// <summary>The kind of head; see <see cref="HeadOptions.Kind"/>.</summary>
    public HeadKind HeadKind { get => Head.Kind; init => _headShortcuts = Then(_headShortcuts, h => h with { Kind = value }); }

    /// <summary>Seed of every random choice; see <see cref="HeadOptions.Seed"/>.</summary>
    public int Seed { get => Head.Seed; init => _headShortcuts = Then(_headShortcuts, h => h with { Seed = value }); }

    /// <summary>Cross-validation folds that choose the L2 weight; see <see cref="HeadOptions.Folds"/>.</summary>
    public int Folds { get => Head.Folds; init => _headShortcuts = Then(_headShortcuts, h => h with { Folds = value }); }

    /// <summary>Out-of-fold P(own label) below which a training photo is left out as mislabelled; see <see cref="HeadOptions.MislabelThreshold"/>.</summary>
    public double MislabelThreshold { get => Head.MislabelThreshold; init => _headShortcuts = Then(_headShortcuts, h => h with { MislabelThreshold = value }); }

    /// <summary>L2 weights tried by the cross-validation; see <see cref="HeadOptions.L2Grid"/>.</summary>
    public IReadOnlyList<float> L2Grid { get => Head.L2Grid; init => _headShortcuts = Then(_headShortcuts, h => h with { L2Grid = value }); }

    /// <summary>Worker threads for feature extraction and the cross-validation (default: all cores).</summary>
    public int MaxDegreeOfParallelism
    {
        get => Features.MaxDegreeOfParallelism;
        init
        {
            _featureShortcuts = Then(_featureShortcuts, f => f with { MaxDegreeOfParallelism = value });
            _headShortcuts = Then(_headShortcuts, h => h with { MaxDegreeOfParallelism = value });
        }
    }

    /// <summary>Equal when the options they give are equal, however they were written.</summary>
    public bool Equals(CatsDogsOptions? other) => other is not null && Features == other.Features && Head == other.Head;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Features, Head);

    private static Func<T, T> Then<T>(Func<T, T> first, Func<T, T> next) => x => next(first(x));
}
