using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Training;

namespace CatsDogs.ML.Persistence;

/// <summary>
/// The saved-model format: a zip with <c>manifest.json</c> (format version, backbones in feature order with full
/// specs and file hashes, how features were extracted, hashes of the other entries, the training summary),
/// <c>scaler.bin</c> (the head's feature scaler) and <c>head.zip</c> (ML.NET's own model file).
/// </summary>
internal static class ModelBundle
{
    public const string Format = "CatsDogs.ML model";
    public const int FormatVersion = 2;
    private const string ManifestEntry = "manifest.json";
    private const string HeadEntry = "head.zip";
    private const string ScalerEntry = "scaler.bin";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public static void Save(string path, IReadOnlyList<Backbone> backbones, LogisticHead head, bool averageWithMirror, TrainingSummary? training)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var headBytes = new MemoryStream();
        head.Save(headBytes);
        using var scalerBytes = new MemoryStream();
        head.Scaler.Save(scalerBytes);
        var manifest = new Manifest
        {
            Format = Format,
            FormatVersion = FormatVersion,
            Library = typeof(ModelBundle).Assembly.GetName().Version?.ToString() ?? "",
            CreatedUtc = DateTime.UtcNow,
            FeatureDimension = head.Dimension,
            Backbones = backbones.Select(b => new BackboneEntry { Spec = b.Spec, ModelSha256 = b.ModelSha256 }).ToArray(),
            HeadSha256 = Convert.ToHexStringLower(SHA256.HashData(headBytes.ToArray())),
            ScalerSha256 = Convert.ToHexStringLower(SHA256.HashData(scalerBytes.ToArray())),
            AverageWithMirror = averageWithMirror,
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

            using (var stream = zip.CreateEntry(ScalerEntry).Open())
            {
                scalerBytes.Position = 0;
                scalerBytes.CopyTo(stream);
            }
        }

        File.Move(temp, full, overwrite: true);
    }

    public static LoadedModel Load(string path)
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
            var headBytes = ReadVerified(zip, HeadEntry, manifest.HeadSha256, full);
            var scaler = FeatureScaler.Load(ReadVerified(zip, ScalerEntry, manifest.ScalerSha256 ?? throw Bad(full, "its manifest names no feature scaler"), full), manifest.FeatureDimension);

            using var headStream = new MemoryStream(headBytes);
            var head = LogisticHead.Load(headStream, manifest.FeatureDimension, scaler);
            return new LoadedModel(
                manifest.Backbones.Select(b => b.Spec).ToArray(), manifest.Backbones.Select(b => b.ModelSha256).ToArray(), head, manifest.AverageWithMirror, manifest.Training);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or JsonException or FormatException or InvalidOperationException)
        {
            throw Bad(full, $"it cannot be read ({e.Message}); it may be truncated or not a model saved by CatsDogs.ML", e);
        }
    }

    private static byte[] ReadVerified(ZipArchive zip, string name, string sha256, string path)
    {
        var entry = zip.GetEntry(name) ?? throw Bad(path, $"it has no '{name}' entry");
        using var bytes = new MemoryStream();
        using (var stream = entry.Open())
        {
            stream.CopyTo(bytes);
        }

        if (!string.Equals(Convert.ToHexStringLower(SHA256.HashData(bytes.ToArray())), sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw Bad(path, $"its '{name}' does not match the hash in its manifest (the file was modified after saving)");
        }

        return bytes.ToArray();
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

        if (manifest.FormatVersion < FormatVersion)
        {
            throw new ModelBundleException(path, $"Model '{path}' was saved in format version {manifest.FormatVersion} by a development version of CatsDogs.ML "
                + $"({manifest.Library}) before feature scaling and mirror averaging; train it again with this version.");
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

        public string? ScalerSha256 { get; init; }

        public bool AverageWithMirror { get; init; }

        public TrainingSummary? Training { get; init; }
    }

    /// <summary>What a saved model needs to be rebuilt: backbones in feature order, their file hashes, the head and how features were extracted.</summary>
    internal sealed record LoadedModel(BackboneSpec[] Specs, string[] Hashes, LogisticHead Head, bool AverageWithMirror, TrainingSummary? Training);

    private sealed record BackboneEntry
    {
        public required BackboneSpec Spec { get; init; }

        public required string ModelSha256 { get; init; }
    }
}
