using System.Collections.Concurrent;
using System.Security.Cryptography;
using CatsDogs.ML.Data;

namespace CatsDogs.ML.Backbones;

/// <summary>Finds backbone files by bare name in the models folders, reads them within a size cap, and hashes them.</summary>
internal static class ModelFiles
{
    /// <summary>Environment variable naming an extra models directory.</summary>
    public const string ModelsDirectoryVariable = "CATSDOGS_MODELS_DIR";

    /// <summary>Largest model file read (1 GiB; the largest Keras backbone of the original work exports to about 220 MB).</summary>
    public const long MaxModelBytes = 1L << 30;

    /// <summary>Largest labels file read (1 MiB).</summary>
    public const long MaxLabelsBytes = 1L << 20;

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

    /// <summary>
    /// Locates <paramref name="fileName"/> (a bare file name: a path is refused, so a model or catalogue cannot point
    /// the library at arbitrary files) for <paramref name="spec"/>, or explains where it looked and how to get it.
    /// </summary>
    /// <exception cref="ArgumentException">The name has a folder part.</exception>
    /// <exception cref="BackboneFileNotFoundException">The file is in none of the search directories.</exception>
    public static string Locate(BackboneSpec spec, string fileName, string? modelsDirectory)
    {
        if (!BackboneSpecChecks.IsBareFileName(fileName))
        {
            throw new ArgumentException($"Backbone '{spec.Name}' names the file '{fileName}'; only bare file names are looked up, in the models folders.");
        }

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

        // Anything that exists counts as found, a FIFO or a folder too: reading it then says what is wrong with it.
        return candidates.FirstOrDefault(c => FileKind.Stat(c).Type != FileType.Missing) ?? throw new BackboneFileNotFoundException(
            spec.Name,
            fileName,
            candidates,
            $"Backbone '{spec.Name}' needs '{fileName}', which is in none of: {string.Join(", ", candidates)}. "
            + $"Pass its folder as the models directory (--models-dir, or ${ModelsDirectoryVariable}). {spec.HowToObtain}");
    }

    /// <summary>Reads a model-related file: a regular file, at most <paramref name="maxBytes"/>.</summary>
    /// <exception cref="BackboneMismatchException">It is not a regular file, too large or unreadable; the message names it.</exception>
    public static byte[] Read(string path, BackboneSpec spec, long maxBytes = MaxModelBytes)
    {
        try
        {
            var bytes = FileKind.ReadAll(path, maxBytes);
            return bytes.Length == bytes.Span.Length && System.Runtime.InteropServices.MemoryMarshal.TryGetArray(bytes, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
                ? segment.Array
                : bytes.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BackboneMismatchException(path, $"'{path}' for backbone '{spec.Name}' cannot be used: {e.Message}. {spec.HowToObtain}", e);
        }
    }

    /// <summary>Lower-case hex SHA-256 of <paramref name="contents"/>, the bytes of the file at <paramref name="path"/>, remembered per path, length and modification time.</summary>
    public static string Sha256(string path, byte[] contents)
    {
        var info = new FileInfo(path);
        return HashCache.GetOrAdd((info.FullName, contents.LongLength, info.LastWriteTimeUtc), _ => Convert.ToHexStringLower(SHA256.HashData(contents)));
    }
}
