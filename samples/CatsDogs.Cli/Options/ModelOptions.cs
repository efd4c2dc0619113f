using System.CommandLine;
using CatsDogs.ML;

namespace CatsDogs.Cli.Options;

/// <summary>The options of every command that loads a saved model: the model itself, where its backbones are, the cache, the device and the signing key.</summary>
internal sealed class ModelOptions(bool asOption = false)
{
    private readonly Argument<string> _model = new("model") { Description = "A model saved by 'train'." };
    private readonly Option<string> _modelOption = new("--model") { Description = "A model saved by 'train'.", Required = true };
    private readonly Option<string?> _modelsDir = CommonOptions.ModelsDir();
    private readonly Option<string?> _cache = CommonOptions.Cache();
    private readonly Option<bool> _noCache = CommonOptions.NoCache();
    private readonly Option<string> _device = CommonOptions.Device();
    private readonly Option<string?> _signKey = CommonOptions.SignKey();

    /// <summary>Adds the model argument (first) and the options to <paramref name="command"/>; without backbones only the signing key.</summary>
    public ModelOptions AddTo(Command command, bool withCache = true, bool withBackbones = true)
    {
        if (asOption)
        {
            command.Add(_modelOption);
        }
        else
        {
            command.Add(_model);
        }

        foreach (var option in !withBackbones ? new Option[] { _signKey } : withCache ? [_modelsDir, _cache, _noCache, _device, _signKey] : [_modelsDir, _device, _signKey])
        {
            command.Add(option);
        }

        return this;
    }

    /// <summary>The model file's path as given, checked to exist before any other work.</summary>
    /// <exception cref="ArgumentException">No file at that path.</exception>
    public string ModelPath(ParseResult parse)
    {
        var path = asOption ? parse.GetRequiredValue(_modelOption) : parse.GetRequiredValue(_model);
        return File.Exists(path) ? path : throw new ArgumentException(
            $"Model file '{Path.GetFullPath(path)}' does not exist. Train one with 'catsdogs train <data-dir> --out {Path.GetFileName(path)}'.");
    }

    /// <summary>The models folder, if given.</summary>
    public string? ModelsDirectory(ParseResult parse) => parse.GetValue(_modelsDir);

    /// <summary>The device.</summary>
    public string Device(ParseResult parse) => parse.GetRequiredValue(_device);

    /// <summary>Loads the model and says where its backbones run.</summary>
    public CatsDogsClassifier Load(ParseResult parse, Cli cli)
    {
        var classifier = CatsDogsClassifier.Load(ModelPath(parse), LoadOptions(parse));
        cli.ReportProviders(classifier);
        return classifier;
    }

    /// <summary>The signing key the model must be signed with, if --sign-key was given.</summary>
    public byte[]? SigningKey(ParseResult parse) => CommonOptions.ReadKey(parse.GetValue(_signKey));

    /// <summary>How to open the model: backbones folder, cache, device, signing key.</summary>
    public ModelLoadOptions LoadOptions(ParseResult parse) => new()
    {
        ModelsDirectory = parse.GetValue(_modelsDir),
        CacheDirectory = parse.GetValue(_cache),
        UseCache = !parse.GetValue(_noCache),
        Device = parse.GetRequiredValue(_device),
        SigningKey = CommonOptions.ReadKey(parse.GetValue(_signKey)),
    };
}
