using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx.Quantization;
using CatsDogs.ML.Training;

namespace CatsDogs.ML.Persistence;

/// <summary>What a saved model holds besides its backbone files.</summary>
/// <param name="Specs">Backbones in feature order.</param>
/// <param name="Hashes">Their files' SHA-256, in the same order.</param>
/// <param name="Views">The views features are averaged over.</param>
/// <param name="Head">The fitted head (scaler included); its kind is recorded in the manifest.</param>
/// <param name="Training">What training did, when recorded.</param>
/// <param name="CreatedUtc">When the bundle was saved.</param>
internal sealed record SavedModel(
    IReadOnlyList<BackboneSpec> Specs, IReadOnlyList<string> Hashes, IReadOnlyList<ImageView> Views, IHead Head, TrainingSummary? Training, DateTime CreatedUtc)
{
    /// <summary>The format the bundle was read from (a model being saved is written in the current one).</summary>
    public int FormatVersion { get; init; } = BundleFormats.Current.Version;

    /// <summary>The library version that wrote the bundle.</summary>
    public string Library { get; init; } = "";

    /// <summary>The backbones' arithmetic: <c>fp32</c> or <c>int8</c>.</summary>
    public string Precision { get; init; } = ModelBundle.Fp32;

    /// <summary>With <c>int8</c>: each backbone's calibration, in order; null with <c>fp32</c>.</summary>
    public IReadOnlyList<QuantizationCalibration>? Calibrations { get; init; }
}

/// <summary>
/// The saved-model format: a zip of <c>manifest.json</c> (format version, backbones in feature order with full
/// specs and file hashes, the views, the head kind, the precision, hashes of the other entries, the training summary),
/// <c>manifest.sha256</c> (the manifest's digest, or with a signing key its HMAC-SHA256 in <c>manifest.hmac</c>),
/// <c>scaler.bin</c> (the head's feature scaler) and <c>head.zip</c> (ML.NET's own model file). <see cref="Save"/>
/// writes <see cref="BundleFormats.Current"/>; <see cref="Load"/> reads every format in <see cref="BundleFormats.All"/>
/// with that format's reader. Loading checks every entry's size before inflating it, every hash, every number's range
/// and every weight's finiteness; any failure is a <see cref="ModelBundleException"/> naming the file and the problem.
/// </summary>
internal static class ModelBundle
{
    public const string Format = "CatsDogs.ML model";
    public const string Fp32 = "fp32";
    public const long MaxBundleBytes = 256L << 20;
    public const int MaxBackbones = 16;
    public const int MaxViews = 64;
    private const long MaxManifestBytes = 16L << 20;
    private const long MaxHeadBytes = 64L << 20;
    private const int MaxEntries = 16;
    private const string ManifestEntry = "manifest.json";
    private const string DigestEntry = "manifest.sha256";
    private const string HmacEntry = "manifest.hmac";
    private const string HeadEntry = "head.zip";
    private const string ScalerEntry = "scaler.bin";

    /// <summary>The format version <see cref="Save"/> writes.</summary>
    public static int FormatVersion => BundleFormats.Current.Version;

    /// <summary>Writes the bundle through a temporary file (<see cref="OutputFile"/>); <paramref name="signingKey"/> adds an HMAC of the manifest.</summary>
    public static void Save(string path, SavedModel model, byte[]? signingKey = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var headBytes = new MemoryStream();
        model.Head.Save(headBytes);
        using var scalerBytes = new MemoryStream();
        model.Head.Scaler.Save(scalerBytes);
        var manifest = new Manifest4
        {
            Format = Format,
            FormatVersion = FormatVersion,
            ReadableFromVersion = FormatVersion,
            Library = typeof(ModelBundle).Assembly.GetName().Version?.ToString() ?? "",
            CreatedUtc = model.CreatedUtc,
            FeatureDimension = model.Head.Dimension,
            Backbones = model.Specs.Select((s, i) => new BackboneEntry { Spec = s, ModelSha256 = model.Hashes[i], Calibration = model.Calibrations?[i].ToJson() }).ToArray(),
            Views = model.Views.Select(v => v.ToString()).ToArray(),
            Head = HeadKinds.Name(model.Head.Kind),
            Precision = model.Precision,
            HeadSha256 = Hex(SHA256.HashData(headBytes.ToArray())),
            ScalerSha256 = Hex(SHA256.HashData(scalerBytes.ToArray())),
            Training = model.Training is null ? null : model.Training with { Skipped = [] },
        };
        var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, ManifestJson.Options);

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

    /// <summary>Reads and checks a bundle of any known format; with <paramref name="signingKey"/>, refuses one whose manifest it did not sign.</summary>
    /// <exception cref="ModelBundleException">The bundle is missing, unreadable, modified, unsigned, of an unknown format or out of range.</exception>
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

        // Only what a malformed file can cause is turned into "not a usable model"; anything else is a bug and propagates.
        try
        {
            using var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read);
            if (zip.Entries.Count > MaxEntries)
            {
                throw Bad(full, $"it has {zip.Entries.Count} entries; a model has at most {MaxEntries}");
            }

            var manifestBytes = Read(zip, ManifestEntry, MaxManifestBytes, full);
            // The digest is checked before the manifest is parsed: a modified manifest is reported as modified.
            var hasDigest = zip.GetEntry(DigestEntry) is not null;
            if (hasDigest)
            {
                var digest = System.Text.Encoding.ASCII.GetString(Read(zip, DigestEntry, 64, full));
                if (!FixedTimeEqualsHex(digest, Hex(SHA256.HashData(manifestBytes))))
                {
                    throw Bad(full, $"its '{ManifestEntry}' does not match its digest (the file was modified after saving)");
                }
            }

            var format = FormatOf(manifestBytes, full);
            if (format.HasDigest && !hasDigest)
            {
                throw Bad(full, $"it has no '{DigestEntry}' entry");
            }

            if (signingKey is not null)
            {
                var hmac = !format.HasDigest || zip.GetEntry(HmacEntry) is null ? null : System.Text.Encoding.ASCII.GetString(Read(zip, HmacEntry, 64, full));
                if (hmac is null || !FixedTimeEqualsHex(hmac, Hex(HMACSHA256.HashData(signingKey, manifestBytes))))
                {
                    throw new ModelBundleException(full, $"Model '{full}' is {(hmac is null ? "not signed" : "not signed with this key")}; "
                        + "this deployment only loads models signed with its key (train or save them with the same --sign-key).");
                }
            }

            var content = Check(format.Read(manifestBytes, full), full);
            var trainer = HeadTrainers.Named(content.HeadKind)
                ?? throw Bad(full, $"its head kind '{content.HeadKind}' is not one this version knows ({string.Join(", ", HeadKinds.Names)}); upgrade CatsDogs.ML to load it");
            var headBytes = ReadVerified(zip, HeadEntry, MaxHeadBytes, content.HeadSha256, full);
            var scaler = FeatureScaler.Load(ReadVerified(zip, ScalerEntry, 8 + (8L * content.FeatureDimension), content.ScalerSha256, full), content.FeatureDimension);
            IHead head;
            try
            {
                using var headStream = new MemoryStream(headBytes);
                head = trainer.Load(headStream, content.FeatureDimension, scaler);
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException or NotSupportedException or OverflowException)
            {
                // ML.NET reports a malformed model zip with these.
                throw Bad(full, $"its {trainer.Name} head cannot be loaded ({e.Message.TrimEnd('.')})", e);
            }

            return new SavedModel(content.Specs, content.Hashes, content.Views, head, content.Training, content.CreatedUtc)
            {
                FormatVersion = content.FormatVersion,
                Library = content.Library,
                Precision = content.Precision,
                Calibrations = content.Calibrations,
            };
        }
        catch (Exception e) when (e is InvalidDataException or IOException or FormatException)
        {
            throw Bad(full, $"it cannot be read ({e.Message.TrimEnd('.')}); it may be truncated or not a model saved by CatsDogs.ML", e);
        }
    }

    internal static ModelBundleException Bad(string path, string problem, Exception? inner = null) =>
        new(path, $"Model '{path}' is not a usable CatsDogs.ML model: {problem}. Save or train it again.", inner);

    // The format and version fields are read first, in every format's spelling, to choose the reader.
    private static BundleFormat FormatOf(byte[] manifestBytes, string path)
    {
        string? format;
        int version;
        int readableFrom;
        try
        {
            using var document = JsonDocument.Parse(manifestBytes, new JsonDocumentOptions { MaxDepth = 32 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Bad(path, "its manifest is not a JSON object");
            }

            format = root.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
            if (!root.TryGetProperty("formatVersion", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out version))
            {
                throw Bad(path, "its manifest's field 'formatVersion' is missing or not a whole number");
            }

            readableFrom = root.TryGetProperty("readableFromVersion", out var r) && r.ValueKind == JsonValueKind.Number && r.TryGetInt32(out var n) ? n : version;
        }
        catch (JsonException e)
        {
            throw Bad(path, $"its manifest is not valid JSON (line {e.LineNumber + 1})", e);
        }

        if (format != Format)
        {
            throw Bad(path, $"its manifest says format '{format}', not '{Format}'");
        }

        if (BundleFormats.Of(version) is { } known)
        {
            return known;
        }

        // A later format that declares itself readable by this one (it only added fields) is read by the newest reader.
        if (version > FormatVersion && readableFrom <= FormatVersion && BundleFormats.Of(readableFrom) is not null)
        {
            return BundleFormats.Current;
        }

        throw new ModelBundleException(path, version > FormatVersion
            ? $"Model '{path}' was saved in format version {version}; this version of CatsDogs.ML reads {BundleFormats.Range}. Upgrade CatsDogs.ML to load it."
            : version is >= 1 and < BundleFormats.OldestReleased
                ? $"Model '{path}' was saved in format version {version} by a development build before CatsDogs.ML 0.2.0; this version reads {BundleFormats.Range}. Train it again with 'catsdogs train <data-dir> --out {Path.GetFileName(path)}'."
                : $"Model '{path}' says format version {version}, which no CatsDogs.ML ever wrote; this version reads {BundleFormats.Range}. Train it again with 'catsdogs train <data-dir> --out {Path.GetFileName(path)}'.");
    }

    private static ManifestContent Check(ManifestContent manifest, string path)
    {
        if (Precisions.Parse(manifest.Precision) is not { } precision || precision == Features.Precision.Auto || Precisions.Name(precision) != manifest.Precision)
        {
            throw new ModelBundleException(path, $"Model '{path}' runs its backbones in precision '{manifest.Precision}'; this version of CatsDogs.ML runs {string.Join(" and ", Precisions.SavedNames)}. Upgrade CatsDogs.ML to load it.");
        }

        // An int8 model rebuilds each quantized graph from its float32 file and the calibration recorded for it.
        if ((precision == Features.Precision.Int8) != (manifest.Calibrations is not null))
        {
            throw Bad(path, precision == Features.Precision.Int8 ? "it is int8 but a backbone has no calibration" : "it is fp32 but lists int8 calibrations");
        }

        if (precision == Features.Precision.Int8 && manifest.Specs.FirstOrDefault(s => !s.CanRunInt8) is { } unmapped)
        {
            throw Bad(path, $"it is int8 but backbone '{unmapped.Name}' names no feature map (the last tensor quantized)");
        }

        if (manifest.Calibrations?.Zip(manifest.Hashes).FirstOrDefault(c => !string.Equals(c.First.ModelSha256, c.Second, StringComparison.OrdinalIgnoreCase)) is { First: not null } stray)
        {
            throw Bad(path, $"an int8 calibration was made on file {stray.First.ModelSha256}, not on its backbone's file {stray.Second}");
        }

        // Nullable annotations are enforced on properties, not on list elements.
        if (manifest.Training is { } t && (t.Trials.Any(x => x is null) || t.Skipped.Any(x => x is null) || t.Excluded.Any(x => x?.Image is null) || t.Best.FoldLogLosses.Count > HeadOptions.MaxFolds))
        {
            throw Bad(path, "its training summary lists an empty entry");
        }

        foreach (var (spec, hash) in manifest.Specs.Zip(manifest.Hashes))
        {
            try
            {
                BackboneSpecChecks.ThrowIfInvalid(spec);
            }
            catch (ArgumentException e)
            {
                throw Bad(path, e.Message.TrimEnd('.'), e);
            }

            if (hash is not { Length: 64 } || !hash.All(char.IsAsciiHexDigit))
            {
                throw Bad(path, $"backbone '{spec.Name}' has no valid file hash");
            }
        }

        if (manifest.Specs.GroupBy(s => s.Name, StringComparer.OrdinalIgnoreCase).Any(g => g.Count() > 1))
        {
            throw Bad(path, "a backbone is listed twice");
        }

        if (manifest.Specs.Sum(s => (long)s.FeatureDimension) != manifest.FeatureDimension)
        {
            throw Bad(path, "its backbones do not add up to the head's feature dimension");
        }

        try
        {
            ImageView.CheckList(manifest.Views);
        }
        catch (ArgumentException e)
        {
            throw Bad(path, $"its views are invalid: {e.Message.TrimEnd('.')}", e);
        }

        return manifest;
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

    private static bool FixedTimeEqualsHex(string a, string b) =>
        a.Length == b.Length && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(a.ToLowerInvariant()), System.Text.Encoding.ASCII.GetBytes(b.ToLowerInvariant()));

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
