namespace CatsDogs.ML.Backbones;

/// <summary>
/// An immutable set of backbone specs looked up by name: <see cref="Default"/> holds <see cref="KnownBackbones.All"/>;
/// <see cref="With"/> and <see cref="WithFile"/> register your own without changing the library.
/// </summary>
/// <example>
/// <code>
/// var mine = KnownBackbones.ResNet50 with { Name = "resnet50_torch", FileName = "resnet50_torch.onnx", Preprocessing = … };
/// var catalog = BackboneCatalog.Default.With(mine);
/// var options = new CatsDogsOptions { Backbones = catalog.Resolve("resnet18,resnet50_torch") };
/// </code>
/// </example>
public sealed class BackboneCatalog
{
    private readonly IReadOnlyList<BackboneSpec> _specs;

    private BackboneCatalog(IReadOnlyList<BackboneSpec> specs) => _specs = specs;

    /// <summary>The built-in catalogue.</summary>
    public static BackboneCatalog Default { get; } = new(KnownBackbones.All);

    /// <summary>The specs, in catalogue order.</summary>
    public IReadOnlyList<BackboneSpec> All => _specs;

    /// <summary>A catalogue with <paramref name="spec"/> added.</summary>
    /// <exception cref="ArgumentException">A backbone of that name is already in the catalogue, or the spec is invalid.</exception>
    public BackboneCatalog With(BackboneSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        BackboneSpecChecks.ThrowIfInvalid(spec);
        if (Find(spec.Name) is not null)
        {
            throw new ArgumentException($"The catalogue already has a backbone named '{spec.Name}'; give yours another name.", nameof(spec));
        }

        return new BackboneCatalog([.. _specs, spec]);
    }

    /// <summary>A catalogue with every spec of a JSON file (the format of <c>models/backbones.json</c>) added.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArgumentException">The file is not a list of specs, or a name is taken.</exception>
    public BackboneCatalog WithFile(string jsonPath)
    {
        IReadOnlyList<BackboneSpec> specs;
        try
        {
            specs = BackboneCatalogJson.Deserialize(File.ReadAllText(jsonPath));
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ArgumentException($"'{jsonPath}' is not a backbone catalogue (a JSON array of specs like models/backbones.json): {e.Message}", nameof(jsonPath), e);
        }

        var catalog = this;
        foreach (var spec in specs)
        {
            try
            {
                catalog = catalog.With(spec);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"'{jsonPath}': {e.Message}", nameof(jsonPath), e);
            }
        }

        return catalog;
    }

    /// <summary>Finds a backbone by name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No backbone has that name; the message lists the known names.</exception>
    public BackboneSpec Get(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return Find(name) ?? throw new ArgumentException(
            $"Unknown backbone '{name.Trim()}'. Known backbones: {string.Join(", ", _specs.Select(b => b.Name))}.", nameof(name));
    }

    /// <summary>Resolves a comma-separated list such as <c>resnet18,mobilenet_v2</c>, in the order given.</summary>
    /// <exception cref="ArgumentException">A name is unknown or repeated, or the list is empty.</exception>
    public IReadOnlyList<BackboneSpec> Resolve(string names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var parts = names.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            throw new ArgumentException("No backbone named; give a comma-separated list such as 'resnet18,mobilenet_v2'.", nameof(names));
        }

        var repeated = parts.GroupBy(p => p, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
        {
            throw new ArgumentException($"Backbone '{repeated.Key}' is listed more than once.", nameof(names));
        }

        return parts.Select(Get).ToArray();
    }

    /// <summary>
    /// Where <paramref name="spec"/>'s file is: the first of the models directories (<paramref name="modelsDirectory"/>,
    /// <c>$CATSDOGS_MODELS_DIR</c>, the application folder and its <c>models/</c>, NuGet's <c>DnnImageModels/*</c>) that has it.
    /// </summary>
    /// <exception cref="BackboneFileNotFoundException">No directory has it; the message lists them and says how to get the file.</exception>
    public static string LocateFile(BackboneSpec spec, string? modelsDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return ModelFiles.Locate(spec, spec.FileName, modelsDirectory);
    }

    private BackboneSpec? Find(string name) =>
        _specs.FirstOrDefault(b => string.Equals(b.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));
}
