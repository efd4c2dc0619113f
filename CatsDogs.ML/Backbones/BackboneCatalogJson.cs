using System.Text.Json;
using System.Text.Json.Serialization;

namespace CatsDogs.ML.Backbones;

/// <summary>The catalogue as JSON, the same text as <c>models/backbones.json</c> in the repository.</summary>
public static class BackboneCatalogJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Serialises backbone specs (default: <see cref="KnownBackbones.All"/>).</summary>
    public static string Serialize(IEnumerable<BackboneSpec>? specs = null) =>
        JsonSerializer.Serialize((specs ?? KnownBackbones.All).ToArray(), Options).ReplaceLineEndings("\n") + "\n";

    /// <summary>Reads specs written by <see cref="Serialize"/> (e.g. a user's own catalogue file).</summary>
    public static IReadOnlyList<BackboneSpec> Deserialize(string json) =>
        JsonSerializer.Deserialize<BackboneSpec[]>(json, Options) ?? [];
}
