using System.Collections;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace CatsDogs.ML.Persistence;

/// <summary>
/// Reads a manifest into a format's record and turns System.Text.Json's errors, which name .NET types
/// (<c>System.Nullable`1[System.Double]</c>), into plain words: which field, and what it must be.
/// </summary>
internal static partial class ManifestJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(allowIntegerValues: false) },
        MaxDepth = 32,
        RespectNullableAnnotations = true,
    };

    /// <exception cref="ModelBundleException">The manifest is not valid JSON or a field has the wrong type; the message names the field.</exception>
    public static T Deserialize<T>(byte[] bytes, string path)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(bytes, Options) ?? throw ModelBundle.Bad(path, "its manifest is empty");
        }
        catch (JsonException e)
        {
            throw ModelBundle.Bad(path, "its manifest " + Describe(e, typeof(T)), e);
        }
    }

    /// <summary>The problem in plain words, e.g. "field 'training.submissionClip' must be a number, not text".</summary>
    internal static string Describe(JsonException e, Type root)
    {
        if (MissingRequired().Match(e.Message) is { Success: true } missing)
        {
            var where = e.Path is null or "$" ? "" : $" in '{Field(e.Path)}'";
            return $"lacks the field {missing.Groups[1].Value.Trim()}{where}";
        }

        if (e.Path is null or "$")
        {
            return $"is not valid JSON (line {e.LineNumber + 1}: {FirstSentence(e.Message)})";
        }

        var expected = Expected(root, e.Path);
        var field = Field(e.Path);
        if (expected is null)
        {
            return $"is not valid at '{field}' (line {e.LineNumber + 1})";
        }

        return e.Message.Contains("null", StringComparison.Ordinal) && !e.Message.Contains("could not be converted", StringComparison.Ordinal)
            ? $"field '{field}' must be {expected}, not null"
            : $"field '{field}' must be {expected}";
    }

    // "$.backbones[0].spec.featureDimension" -> "backbones[0].spec.featureDimension"
    private static string Field(string path) => path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (end > 0 ? message[..end] : message).TrimEnd('.');
    }

    // Walks the record type along the JSON path to the field's declared type.
    private static string? Expected(Type root, string path)
    {
        var type = root;
        foreach (Match step in PathStep().Matches(path))
        {
            if (step.Groups["index"].Success)
            {
                type = ElementType(type);
            }
            else
            {
                var name = step.Groups["name"].Value;
                var property = type?.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                    .FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
                if (property is null)
                {
                    return null;
                }

                type = property.PropertyType;
            }

            if (type is null)
            {
                return null;
            }
        }

        return Words(type);
    }

    private static Type? ElementType(Type? type) =>
        type is null ? null
        : type.IsArray ? type.GetElementType()
        : type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type) ? type.GetGenericArguments()[^1]
        : null;

    private static string Words(Type type)
    {
        var inner = Nullable.GetUnderlyingType(type);
        if (inner is not null)
        {
            return Words(inner) + " or null";
        }

        return type switch
        {
            _ when type == typeof(string) => "text",
            _ when type == typeof(bool) => "true or false",
            _ when type == typeof(int) || type == typeof(long) => "a whole number",
            _ when type == typeof(float) || type == typeof(double) => "a number",
            _ when type == typeof(DateTime) => "a date and time such as 2026-12-06T15:00:00Z",
            _ when type == typeof(TimeSpan) => "a duration such as 00:01:30",
            { IsEnum: true } => "one of " + string.Join(", ", Enum.GetNames(type)),
            _ when ElementType(type) is { } element && type != typeof(string) => "a list of " + Plural(Words(element)),
            _ => "an object",
        };
    }

    private static string Plural(string words) => words switch
    {
        "text" => "texts",
        "a number" => "numbers",
        "a whole number" => "whole numbers",
        "an object" => "objects",
        _ => words,
    };

    [GeneratedRegex(@"\.(?<name>[A-Za-z0-9_]+)|\[(?<index>\d+)\]")]
    private static partial Regex PathStep();

    [GeneratedRegex(@"missing required properties including: ('[^']*'(?:, ?'[^']*')*)")]
    private static partial Regex MissingRequired();
}
