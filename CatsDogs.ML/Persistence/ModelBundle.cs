using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Training;

namespace CatsDogs.ML.Persistence;

/// <summary>
/// The saved-model format: a zip with <c>manifest.json</c> (format version, backbones with full specs and file
/// hashes, the head's hash, the training summary) and <c>head.zip</c> (ML.NET's own model file).
/// </summary>
internal static class ModelBundle
{
    public const string Format = "CatsDogs.ML model";
    public const int FormatVersion = 1;
    private const string ManifestEntry = "manifest.json";
    private const string HeadEntry = "head.zip";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public static void Save(string path, IReadOnlyList<Backbone> backbones, LogisticHead head, TrainingSummary? training)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var headBytes = new MemoryStream();
        head.Save(headBytes);
        var manifest = new Manifest
        {
            Format = Format,
            FormatVersion = FormatVersion,
            Library = typeof(ModelBundle).Assembly.GetName().Version?.ToString() ?? "",
            CreatedUtc = DateTime.UtcNow,
            FeatureDimension = head.Dimension,
            Backbones = backbones.Select(b => new BackboneEntry { Spec = b.Spec, ModelSha256 = b.ModelSha256 }).ToArray(),
            HeadSha256 = Convert.ToHexStringLower(SHA256.HashData(headBytes.ToArray())),
            Training = training is null ? null : training with { Skipped = [] },
        };

        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".tmp";
        using (var zip = ZipFile.Open(temp, ZipArchiveMode.Create))
        {
            using (var stream = zip.CreateEntry(ManifestEntry).Open())
            {
                JsonSerializer.Serialize(stream, manifest, Json);
            }

            using (var stream = zip.CreateEntry(HeadEntry, CompressionLevel.NoCompression).Open())
            {
                headBytes.Position = 0;
                headBytes.CopyTo(stream);
            }
        }

        File.Move(temp, full, overwrite: true);
    }

    public static (BackboneSpec[] Specs, string[] Hashes, LogisticHead Head, TrainingSummary? Training) Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new ModelBundleException(full, $"Model file '{full}' does not exist. Train one with 'catsdogs train <data-dir> --out {Path.GetFileName(full)}'.");
        }

        try
        {
            using var zip = ZipFile.OpenRead(full);
            var manifest = ReadManifest(zip, full);
            var headEntry = zip.GetEntry(HeadEntry) ?? throw Bad(full, $"it has no '{HeadEntry}' entry");
            using var headBytes = new MemoryStream();
            using (var stream = headEntry.Open())
            {
                stream.CopyTo(headBytes);
            }

            if (!string.Equals(Convert.ToHexStringLower(SHA256.HashData(headBytes.ToArray())), manifest.HeadSha256, StringComparison.OrdinalIgnoreCase))
            {
                throw Bad(full, "its head does not match the hash in its manifest (the file was modified after saving)");
            }

            headBytes.Position = 0;
            var head = LogisticHead.Load(headBytes, manifest.FeatureDimension);
            return (manifest.Backbones.Select(b => b.Spec).ToArray(), manifest.Backbones.Select(b => b.ModelSha256).ToArray(), head, manifest.Training);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or JsonException or FormatException or InvalidOperationException)
        {
            throw Bad(full, $"it cannot be read ({e.Message}); it may be truncated or not a model saved by CatsDogs.ML", e);
        }
    }

    private static Manifest ReadManifest(ZipArchive zip, string path)
    {
        var entry = zip.GetEntry(ManifestEntry) ?? throw Bad(path, $"it has no '{ManifestEntry}'");
        using var stream = entry.Open();
        var manifest = JsonSerializer.Deserialize<Manifest>(stream, Json) ?? throw Bad(path, "its manifest is empty");
        if (manifest.Format != Format)
        {
            throw Bad(path, $"its manifest says format '{manifest.Format}', not '{Format}'");
        }

        if (manifest.FormatVersion > FormatVersion)
        {
            throw new ModelBundleException(path, $"Model '{path}' was saved in format version {manifest.FormatVersion} by CatsDogs.ML {manifest.Library}; "
                + $"this version reads format {FormatVersion} and older. Upgrade CatsDogs.ML to load it.");
        }

        if (manifest.Backbones.Length == 0 || manifest.Backbones.Sum(b => b.Spec.FeatureDimension) != manifest.FeatureDimension)
        {
            throw Bad(path, "its backbones do not add up to the head's feature dimension");
        }

        return manifest;
    }

    private static ModelBundleException Bad(string path, string problem, Exception? inner = null) =>
        new(path, $"Model '{path}' is not a usable CatsDogs.ML model: {problem}. Save or train it again.", inner);

    private sealed record Manifest
    {
        public required string Format { get; init; }

        public required int FormatVersion { get; init; }

        public string Library { get; init; } = "";

        public DateTime CreatedUtc { get; init; }

        public required int FeatureDimension { get; init; }

        public required BackboneEntry[] Backbones { get; init; }

        public required string HeadSha256 { get; init; }

        public TrainingSummary? Training { get; init; }
    }

    private sealed record BackboneEntry
    {
        public required BackboneSpec Spec { get; init; }

        public required string ModelSha256 { get; init; }
    }
}
