using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace CatsDogs.ML.Backbones;

/// <summary>Finds backbone files on disk and hashes them (once per file version).</summary>
internal static class ModelFiles
{
    /// <summary>Environment variable naming an extra models directory.</summary>
    public const string ModelsDirectoryVariable = "CATSDOGS_MODELS_DIR";

    private static readonly ConcurrentDictionary<(string Path, long Length, DateTime Modified), string> HashCache = new();

    /// <summary>
    /// The directories searched, in order: the caller's, <c>$CATSDOGS_MODELS_DIR</c>, then the application folder
    /// (where NuGet's ResNet18 package copies <c>DnnImageModels/…</c>) and its <c>models/</c> subfolder.
    /// </summary>
    public static IReadOnlyList<string> SearchDirectories(string? modelsDirectory)
    {
        var roots = new List<string>();
        if (!string.IsNullOrWhiteSpace(modelsDirectory))
        {
            roots.Add(Path.GetFullPath(modelsDirectory));
        }

        if (Environment.GetEnvironmentVariable(ModelsDirectoryVariable) is { Length: > 0 } fromEnvironment)
        {
            roots.Add(Path.GetFullPath(fromEnvironment));
        }

        roots.Add(AppContext.BaseDirectory);
        roots.Add(Path.Combine(AppContext.BaseDirectory, "models"));
        return roots.Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Locates <paramref name="fileName"/> for <paramref name="spec"/>, or explains where it looked and how to get it.</summary>
    /// <exception cref="BackboneFileNotFoundException">The file is in none of the search directories.</exception>
    public static string Locate(BackboneSpec spec, string fileName, string? modelsDirectory)
    {
        var candidates = new List<string>();
        foreach (var root in SearchDirectories(modelsDirectory))
        {
            candidates.Add(Path.Combine(root, fileName));
            var nuget = Path.Combine(root, "DnnImageModels");
            if (Directory.Exists(nuget))
            {
                candidates.AddRange(Directory.EnumerateDirectories(nuget).Order(StringComparer.Ordinal).Select(d => Path.Combine(d, fileName)));
            }
        }

        return candidates.FirstOrDefault(File.Exists) ?? throw new BackboneFileNotFoundException(
            spec.Name,
            fileName,
            candidates,
            $"Backbone '{spec.Name}' needs '{fileName}', which is in none of: {string.Join(", ", candidates)}. "
            + $"Pass its folder as the models directory (--models-dir, or ${ModelsDirectoryVariable}). {spec.HowToObtain}");
    }

    /// <summary>Lower-case hex SHA-256 of a file, remembered per path, length and modification time.</summary>
    public static string Sha256(string path) => Sha256(path, contents: null);

    /// <summary>
    /// The same, hashing <paramref name="contents"/> (the file's bytes, already read by the caller) instead of reading
    /// the file again when the hash is not remembered yet.
    /// </summary>
    public static string Sha256(string path, byte[]? contents)
    {
        var info = new FileInfo(path);
        return HashCache.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc), key =>
        {
            if (contents is not null)
            {
                return Convert.ToHexStringLower(SHA256.HashData(contents));
            }

            using var stream = File.OpenRead(key.Path);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        });
    }
}
