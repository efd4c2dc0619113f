using System.CommandLine;
using CatsDogs.ML;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Training;

namespace CatsDogs.Cli.Options;

/// <summary>The options of every command that trains heads (train, fusion-report, audit), turned into <see cref="CatsDogsOptions"/>.</summary>
internal sealed class TrainingOptions(string defaultBackbones)
{
    /// <summary>The four backbones whose real weights are available (the default of fusion-report and audit).</summary>
    public const string RealBackbones = "resnet18,mobilenet_v2,mobilenet_v2_tf2,mobilenet_v1";

    private readonly Option<string> _backbones = new("--backbones") { Description = "Comma-separated backbone names (see 'catsdogs backbones').", DefaultValueFactory = _ => defaultBackbones };
    private readonly Option<string?> _catalog = CommonOptions.Catalog();
    // Defaults and their descriptions are read from the library, so the help cannot drift from what runs.
    private readonly Option<int> _seed = new("--seed") { Description = "Seed of every random choice (splits, folds).", DefaultValueFactory = _ => new CatsDogsOptions().Seed };
    private readonly Option<int> _folds = new("--folds") { Description = "Cross-validation folds that choose the regularisation (2 to 20).", DefaultValueFactory = _ => new CatsDogsOptions().Folds };
    private readonly Option<string> _head = new("--head")
    {
        Description = $"The head on the features: {string.Join(" or ", HeadKinds.Names)} (only {HeadKinds.Names[0]} can be explained and exported).",
        DefaultValueFactory = _ => HeadKinds.Names[0],
    };

    private readonly Option<string?> _views = new("--views") { Description = $"Views each photo is shown in, features averaged over them: native, squash, cropF, each optionally +mirror, @SIZE for a larger input (default {string.Join(",", ImageView.Defaults)})." };
    private readonly Option<bool> _noMirror = new("--no-mirror") { Description = $"Only the native view (1/{ImageView.Defaults.Count} of the default backbone work); the same as --views native." };
    private readonly Option<string?> _modelsDir = CommonOptions.ModelsDir();
    private readonly Option<string?> _cache = CommonOptions.Cache();
    private readonly Option<bool> _noCache = CommonOptions.NoCache();
    private readonly Option<string> _device = CommonOptions.Device();
    private readonly Option<string> _precision = new("--precision")
    {
        Description = $"The backbones' arithmetic: {string.Join(", ", Precisions.Names)} (auto: int8 on a CPU with 8-bit dot-product instructions, AVX-VNNI, AVX-512 VNNI or Arm dot product, which this one {(Precisions.CpuHasInt8DotProduct ? "has" : "lacks")}, else fp32, and fp32 on CUDA; int8: calibrated on --calibration-photos training photos, CPU only; docs/quantization.md).",
        DefaultValueFactory = _ => Precisions.Name(new FeatureOptions().Precision),
    };

    private readonly Option<int> _calibrationPhotos = new("--calibration-photos")
    {
        Description = "With --precision int8: training photos each backbone is calibrated on, drawn stratified by label with --seed.",
        DefaultValueFactory = _ => FeatureOptions.DefaultCalibrationPhotos,
    };

    private bool _withPrecision;

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    /// <param name="command">The command.</param>
    /// <param name="withPrecision">Also add --precision and --calibration-photos (train only).</param>
    public TrainingOptions AddTo(Command command, bool withPrecision = false)
    {
        _withPrecision = withPrecision;
        if (withPrecision)
        {
            command.Add(_precision);
            command.Add(_calibrationPhotos);
        }

        foreach (var option in new Option[] { _backbones, _catalog, _seed, _folds, _head, _views, _noMirror, _modelsDir, _cache, _noCache, _device })
        {
            command.Add(option);
        }

        return this;
    }

    /// <summary>The catalogue: built in, plus the --catalog file.</summary>
    public BackboneCatalog Catalog(ParseResult parse) =>
        parse.GetValue(_catalog) is { } file ? BackboneCatalog.Default.WithFile(file) : BackboneCatalog.Default;

    /// <summary>The options, checked (a wrong value fails here, before any work).</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public CatsDogsOptions Build(ParseResult parse)
    {
        if (parse.GetValue(_noMirror) && parse.GetValue(_views) is not null)
        {
            throw new ArgumentException("Give either --views or --no-mirror, not both.");
        }

        var options = new CatsDogsOptions
        {
            Backbones = Catalog(parse).Resolve(parse.GetRequiredValue(_backbones)),
            Views = parse.GetValue(_noMirror) ? [ImageView.Native] : parse.GetValue(_views) is { } views ? ImageView.ParseList(views) : ImageView.Defaults,
            Seed = parse.GetValue(_seed),
            Folds = parse.GetValue(_folds),
            HeadKind = HeadKinds.Parse(parse.GetRequiredValue(_head)),
            ModelsDirectory = parse.GetValue(_modelsDir),
            CacheDirectory = parse.GetValue(_cache),
            UseCache = !parse.GetValue(_noCache),
            Device = parse.GetRequiredValue(_device),
        };
        if (_withPrecision)
        {
            var name = parse.GetRequiredValue(_precision);
            options = options with
            {
                Features = options.Features with
                {
                    Precision = Precisions.Parse(name) ?? throw new ArgumentException($"Unknown precision '{name}': use {string.Join(", ", Precisions.Names)}."),
                    CalibrationPhotos = parse.GetValue(_calibrationPhotos),
                },
            };
        }

        options.Features.Validate();
        options.Head.Validate();
        return options;
    }
}
