using System.CommandLine;
using CatsDogs.ML;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;

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
    private readonly Option<string?> _views = new("--views") { Description = $"Views each photo is shown in, features averaged over them: native, squash, cropF, each optionally +mirror, @SIZE for a larger input (default {string.Join(",", ImageView.Defaults)})." };
    private readonly Option<bool> _noMirror = new("--no-mirror") { Description = $"Only the native view (1/{ImageView.Defaults.Count} of the default backbone work); the same as --views native." };
    private readonly Option<string?> _modelsDir = CommonOptions.ModelsDir();
    private readonly Option<string?> _cache = CommonOptions.Cache();
    private readonly Option<bool> _noCache = CommonOptions.NoCache();
    private readonly Option<string> _device = CommonOptions.Device();

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public TrainingOptions AddTo(Command command)
    {
        foreach (var option in new Option[] { _backbones, _catalog, _seed, _folds, _views, _noMirror, _modelsDir, _cache, _noCache, _device })
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
            ModelsDirectory = parse.GetValue(_modelsDir),
            CacheDirectory = parse.GetValue(_cache),
            UseCache = !parse.GetValue(_noCache),
            Device = parse.GetRequiredValue(_device),
        };
        options.Features.Validate();
        options.Head.Validate();
        return options;
    }
}
