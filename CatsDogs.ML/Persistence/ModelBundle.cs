using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Training;

namespace CatsDogs.ML.Persistence;

/// <summary>What a saved model holds besides its backbone files.</summary>
/// <param name="Specs">Backbones in feature order.</param>
/// <param name="Hashes">Their files' SHA-256, in the same order.</param>
/// <param name="Views">The views features are averaged over.</param>
/// <param name="Head">The fitted head (scaler included).</param>
/// <param name="Training">What training did, when recorded.</param>
/// <param name="CreatedUtc">When the bundle was saved.</param>
internal sealed record SavedModel(
    IReadOnlyList<BackboneSpec> Specs, IReadOnlyList<string> Hashes, IReadOnlyList<ImageView> Views, LogisticHead Head, TrainingSummary? Training, DateTime CreatedUtc);

/// <summary>
/// The saved-model format: a zip of <c>manifest.json</c> (format version, backbones in feature order with full
/// specs and file hashes, the views, hashes of the other entries, the training summary), <c>manifest.sha256</c> (the
/// manifest's digest, or with a signing key its HMAC-SHA256 in <c>manifest.hmac</c>), <c>scaler.bin</c> (the head's
/// feature scaler) and <c>head.zip</c> (ML.NET's own model file). Loading checks every entry's size before inflating
/// it, every hash, every number's range and every weight's finiteness; any failure is a
/// <see cref="ModelBundleException"/> naming the file and the problem.
/// </summary>
internal static class ModelBundle
{
    public const string Format = "CatsDogs.ML model";
    public const int FormatVersion = 3;
    public const long MaxBundleBytes = 256L << 20;
    private const long MaxManifestBytes = 16L << 20;
    private const long MaxHeadBytes = 64L << 20;
    private const int MaxEntries = 16;
    private const int MaxBackbones = 16;
    private const string ManifestEntry = "manifest.json";
    private const string DigestEntry = "manifest.sha256";
    private const string HmacEntry = "manifest.hmac";
    private const string HeadEntry = "head.zip";
    private const string ScalerEntry = "scaler.bin";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(allowIntegerValues: false) },
        MaxDepth = 32,
    };

    /// <summary>Writes the bundle through a temporary file (<see cref="OutputFile"/>); <paramref name="signingKey"/> adds an HMAC of the manifest.</summary>
    public static void Save(string path, SavedModel model, byte[]? signingKey = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var headBytes = new MemoryStream();
        model.Head.Save(headBytes);
        using var scalerBytes = new MemoryStream();
        model.Head.Scaler.Save(scalerBytes);
        var manifest = new Manifest
        {
            Format = Format,
            FormatVersion = FormatVersion,
            Library = typeof(ModelBundle).Assembly.GetName().Version?.ToString() ?? "",
            CreatedUtc = model.CreatedUtc,
            FeatureDimension = model.Head.Dimension,
            Backbones = model.Specs.Select((s, i) => new BackboneEntry { Spec = s, ModelSha256 = model.Hashes[i] }).ToArray(),
            Views = model.Views.Select(v => v.ToString()).ToArray(),
            HeadSha256 = Hex(SHA256.HashData(headBytes.ToArray())),
            ScalerSha256 = Hex(SHA256.HashData(scalerBytes.ToArray())),
            Training = model.Training is null ? null : model.Training with { Skipped = [] },
        };
        var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, Json);

        OutputFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            Add(zip, ManifestEntry, manifestBytes);
            Add(zip, DigestEntry, System.Text.Encoding.ASCII.GetBytes(Hex(SHA256.HashData(manifestBytes))));
            if (signingKey is not null)
            {
                Add(zip, HmacEntry, System.Text.Encoding.ASCII.GetBytes(Hex(HMACSHA256.HashData(signingKey, manifestBytes))));
            }

            Add(zip, HeadEntry, headBytes.ToArray(), CompressionLevel.NoCompression);
            Add(zip, ScalerEntry, scalerBytes.ToArray());
        });
    }

    /// <summary>Reads and checks a bundle; with <paramref name="signingKey"/>, refuses one whose manifest it did not sign.</summary>
    /// <exception cref="ModelBundleException">The bundle is missing, unreadable, modified, unsigned or out of range.</exception>
    public static SavedModel Load(string path, byte[]? signingKey = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (FileKind.Stat(full).Type == FileType.Missing)
        {
            throw new ModelBundleException(full, $"Model file '{full}' does not exist. Train one with 'catsdogs train <data-dir> --out {Path.GetFileName(full)}'.");
        }

        byte[] bytes;
        try
        {
            bytes = FileKind.ReadAll(full, MaxBundleBytes).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Bad(full, $"it cannot be read: {e.Message}", e);
        }

        try
        {
            using var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read);
            if (zip.Entries.Count > MaxEntries)
            {
                throw Bad(full, $"it has {zip.Entries.Count} entries; a model has at most {MaxEntries}");
            }

            var manifestBytes = Read(zip, ManifestEntry, MaxManifestBytes, full);
            var digest = System.Text.Encoding.ASCII.GetString(Read(zip, DigestEntry, 64, full));
            if (!FixedTimeEqualsHex(digest, Hex(SHA256.HashData(manifestBytes))))
            {
                throw Bad(full, $"its '{ManifestEntry}' does not match its digest (the file was modified after saving)");
            }

            if (signingKey is not null)
            {
                var hmac = zip.GetEntry(HmacEntry) is null ? null : System.Text.Encoding.ASCII.GetString(Read(zip, HmacEntry, 64, full));
                if (hmac is null || !FixedTimeEqualsHex(hmac, Hex(HMACSHA256.HashData(signingKey, manifestBytes))))
                {
                    throw new ModelBundleException(full, $"Model '{full}' is {(hmac is null ? "not signed" : "not signed with this key")}; "
                        + "this deployment only loads models signed with its key (train or save them with the same --sign-key).");
                }
            }

            var manifest = ParseManifest(manifestBytes, full);
            var headBytes = ReadVerified(zip, HeadEntry, MaxHeadBytes, manifest.HeadSha256, full);
            var scaler = FeatureScaler.Load(ReadVerified(zip, ScalerEntry, 8 + (8L * manifest.FeatureDimension), manifest.ScalerSha256, full), manifest.FeatureDimension);
            using var headStream = new MemoryStream(headBytes);
            var head = LogisticHead.Load(headStream, manifest.FeatureDimension, scaler);
            var (weights, bias) = head.RawLinearForm();
            if (!double.IsFinite(bias) || weights.Any(w => !float.IsFinite(w)))
            {
                throw Bad(full, "its head holds a weight that is not a finite number");
            }

            return new SavedModel(
                manifest.Backbones.Select(b => b.Spec).ToArray(),
                manifest.Backbones.Select(b => b.ModelSha256).ToArray(),
                manifest.Views.Select(ImageView.Parse).ToArray(),
                head,
                manifest.Training,
                manifest.CreatedUtc);
        }
        catch (ModelBundleException)
        {
            throw;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or JsonException or FormatException or InvalidOperationException
            or ArgumentException or NotSupportedException or OverflowException or IndexOutOfRangeException or NullReferenceException)
        {
            throw Bad(full, $"it cannot be read ({e.Message}); it may be truncated or not a model saved by CatsDogs.ML", e);
        }
    }

    private static void Add(ZipArchive zip, string name, byte[] bytes, CompressionLevel level = CompressionLevel.Optimal)
    {
        using var stream = zip.CreateEntry(name, level).Open();
        stream.Write(bytes);
    }

    // Reads an entry, refusing one that claims or inflates to more than cap bytes (a zip bomb is stopped at the cap).
    private static byte[] Read(ZipArchive zip, string name, long cap, string path)
    {
        var entry = zip.GetEntry(name) ?? throw Bad(path, $"it has no '{name}' entry");
        if (entry.Length > cap)
        {
            throw Bad(path, $"its '{name}' claims {entry.Length:N0} bytes, more than the {cap:N0} it can hold");
        }

        using var stream = entry.Open();
        using var bytes = new MemoryStream();
        var buffer = new byte[81920];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            if (bytes.Length + read > cap)
            {
                throw Bad(path, $"its '{name}' inflates to more than the {cap:N0} bytes it can hold");
            }

            bytes.Write(buffer, 0, read);
        }

        return bytes.ToArray();
    }

    private static byte[] ReadVerified(ZipArchive zip, string name, long cap, string sha256, string path)
    {
        var bytes = Read(zip, name, cap, path);
        if (!FixedTimeEqualsHex(sha256, Hex(SHA256.HashData(bytes))))
        {
            throw Bad(path, $"its '{name}' does not match the hash in its manifest (the file was modified after saving)");
        }

        return bytes;
    }

    private static Manifest ParseManifest(byte[] bytes, string path)
    {
        Manifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<Manifest>(bytes, Json);
        }
        catch (JsonException e)
        {
            throw Bad(path, $"its manifest is not valid ({e.Message})", e);
        }

        if (manifest is null)
        {
            throw Bad(path, "its manifest is empty");
        }

        if (manifest.Format != Format)
        {
            throw Bad(path, $"its manifest says format '{manifest.Format}', not '{Format}'");
        }

        if (manifest.FormatVersion > FormatVersion)
        {
            throw new ModelBundleException(path, $"Model '{path}' was saved in format version {manifest.FormatVersion} by CatsDogs.ML {manifest.Library}; "
                + $"this version reads format {FormatVersion}. Upgrade CatsDogs.ML to load it.");
        }

        if (manifest.FormatVersion < FormatVersion)
        {
            throw new ModelBundleException(path, $"Model '{path}' was saved in format version {manifest.FormatVersion} by an earlier CatsDogs.ML "
                + $"({manifest.Library}); this version reads format {FormatVersion} (views, manifest digest): train it again with this version.");
        }

        if (manifest.Backbones is not { Length: > 0 and <= MaxBackbones } || manifest.Backbones.Any(b => b is null))
        {
            throw Bad(path, $"it must list 1 to {MaxBackbones} backbones");
        }

        foreach (var entry in manifest.Backbones)
        {
            try
            {
                BackboneSpecChecks.ThrowIfInvalid(entry.Spec ?? throw new ArgumentException("a backbone has no spec."));
            }
            catch (ArgumentException e)
            {
                throw Bad(path, e.Message.TrimEnd('.'), e);
            }

            if (entry.ModelSha256 is not { Length: 64 } || !entry.ModelSha256.All(char.IsAsciiHexDigit))
            {
                throw Bad(path, $"backbone '{entry.Spec.Name}' has no valid file hash");
            }
        }

        if (manifest.Backbones.GroupBy(b => b.Spec.Name, StringComparer.OrdinalIgnoreCase).Any(g => g.Count() > 1))
        {
            throw Bad(path, "a backbone is listed twice");
        }

        if (manifest.Backbones.Sum(b => (long)b.Spec.FeatureDimension) != manifest.FeatureDimension)
        {
            throw Bad(path, "its backbones do not add up to the head's feature dimension");
        }

        if (manifest.Views is not { Length: > 0 and <= 64 } || manifest.HeadSha256 is null || manifest.ScalerSha256 is null)
        {
            throw Bad(path, "its manifest lacks the views or the hashes of its entries");
        }

        try
        {
            ImageView.CheckList(manifest.Views.Select(ImageView.Parse).ToArray());
        }
        catch (ArgumentException e)
        {
            throw Bad(path, $"its views are invalid: {e.Message.TrimEnd('.')}", e);
        }

        return manifest;
    }

    private static bool FixedTimeEqualsHex(string a, string b) =>
        a.Length == b.Length && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(a.ToLowerInvariant()), System.Text.Encoding.ASCII.GetBytes(b.ToLowerInvariant()));

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

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

        public required string[] Views { get; init; }

        public required string HeadSha256 { get; init; }

        public required string ScalerSha256 { get; init; }

        public TrainingSummary? Training { get; init; }
    }

    private sealed record BackboneEntry
    {
        public required BackboneSpec Spec { get; init; }

        public required string ModelSha256 { get; init; }
    }
}
