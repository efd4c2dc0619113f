using System.Text.Json;
using System.Text.Json.Serialization;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Onnx.Quantization;
using CatsDogs.ML.Training;

namespace CatsDogs.ML.Persistence;

/// <summary>
/// A manifest read by the reader of its format and mapped to today's terms: what every format's bundle says about
/// its backbones, views, head and entries. <see cref="ModelBundle"/> checks it and loads the entries the same way for
/// every format.
/// </summary>
internal sealed record ManifestContent
{
    public required int FormatVersion { get; init; }

    public required string Library { get; init; }

    public required DateTime CreatedUtc { get; init; }

    public required int FeatureDimension { get; init; }

    public required IReadOnlyList<BackboneSpec> Specs { get; init; }

    public required IReadOnlyList<string> Hashes { get; init; }

    public required IReadOnlyList<ImageView> Views { get; init; }

    public required string HeadKind { get; init; }

    public required string Precision { get; init; }

    /// <summary>Each backbone's int8 calibration when every backbone has one; null when none has.</summary>
    public IReadOnlyList<QuantizationCalibration>? Calibrations { get; init; }

    public required string HeadSha256 { get; init; }

    public required string ScalerSha256 { get; init; }

    public TrainingSummary? Training { get; init; }
}

/// <summary>
/// One saved-model format, after ML.NET's <c>VersionInfo</c>: the version it is, the library that first wrote it, what
/// changed, whether its manifest carries a digest, and its reader. Each reader keeps its format's manifest shape
/// frozen and maps it to <see cref="ManifestContent"/>, so an old model loads as it scored when it was saved.
/// </summary>
/// <param name="Version">The <c>formatVersion</c> in the manifest.</param>
/// <param name="FirstLibrary">The CatsDogs.ML version that first wrote it.</param>
/// <param name="Change">What it added over the format before, in a few words.</param>
/// <param name="HasDigest">Its manifest's SHA-256 (and, when signed, HMAC) sit beside it.</param>
/// <param name="Read">Parses the manifest bytes (the bundle's path for messages) into today's terms.</param>
internal sealed record BundleFormat(int Version, string FirstLibrary, string Change, bool HasDigest, Func<byte[], string, ManifestContent> Read);

/// <summary>Every format this version reads, oldest first; the last is the one <see cref="ModelBundle.Save"/> writes.</summary>
internal static class BundleFormats
{
    /// <summary>Formats before the first release (0.2.0), refused with a plain reason.</summary>
    public const int OldestReleased = 2;

    public static IReadOnlyList<BundleFormat> All { get; } =
    [
        new(2, "0.2.0", "backbone specs with flat preprocessing fields, photo + mirror as a flag, no manifest digest", HasDigest: false, Format2Reader.Read),
        new(3, "0.2.0 (redesign)", "views, nested preprocessing, manifest digest and optional HMAC", HasDigest: true, Format3Reader.Read),
        new(4, "0.3.0", "the head kind (logistic, lightgbm), the precision (fp32, int8) and each int8 backbone's calibration", HasDigest: true, Format4Reader.Read),
    ];

    /// <summary>The format <see cref="ModelBundle.Save"/> writes.</summary>
    public static BundleFormat Current => All[^1];

    public static BundleFormat? Of(int version) => All.FirstOrDefault(f => f.Version == version);

    /// <summary>"formats 2 to 4", for messages.</summary>
    public static string Range => $"formats {All[0].Version} to {Current.Version}";
}

/// <summary>Format 2 (CatsDogs.ML 0.2.0): flat backbone specs, <c>averageWithMirror</c>, no digest.</summary>
internal static class Format2Reader
{
    public static ManifestContent Read(byte[] bytes, string path)
    {
        var m = ManifestJson.Deserialize<Manifest>(bytes, path);
        if (m.Backbones is not { Length: > 0 and <= ModelBundle.MaxBackbones } || m.Backbones.Any(b => b is null))
        {
            throw ModelBundle.Bad(path, $"its manifest must list 1 to {ModelBundle.MaxBackbones} backbones");
        }

        return new ManifestContent
        {
            FormatVersion = 2,
            Library = m.Library,
            CreatedUtc = m.CreatedUtc,
            FeatureDimension = m.FeatureDimension,
            Specs = m.Backbones.Select(b => b.Spec.ToSpec()).ToArray(),
            Hashes = m.Backbones.Select(b => b.ModelSha256).ToArray(),
            // Format 2 averaged the photo with its mirror, or showed the photo alone: today's native views.
            Views = m.AverageWithMirror ? ImageView.NativeAndMirror : [ImageView.Native],
            HeadKind = HeadKinds.Name(HeadKind.Logistic),
            Precision = ModelBundle.Fp32,
            HeadSha256 = m.HeadSha256,
            ScalerSha256 = m.ScalerSha256,
            Training = m.Training,
        };
    }

    private sealed record Manifest
    {
        public string Library { get; init; } = "";

        public DateTime CreatedUtc { get; init; }

        public required int FeatureDimension { get; init; }

        public required BackboneEntry[] Backbones { get; init; }

        public required string HeadSha256 { get; init; }

        public required string ScalerSha256 { get; init; }

        public bool AverageWithMirror { get; init; }

        public TrainingSummary? Training { get; init; }
    }

    private sealed record BackboneEntry
    {
        public required Spec2 Spec { get; init; }

        public required string ModelSha256 { get; init; }
    }

    // BackboneSpec as 0.2.0 wrote it: the preprocessing fields sat on the spec itself.
    private sealed record Spec2
    {
        public required string Name { get; init; }

        public required string FileName { get; init; }

        public string? Sha256 { get; init; }

        public required string InputName { get; init; }

        public TensorLayout Layout { get; init; } = TensorLayout.Nchw;

        public required int InputWidth { get; init; }

        public required int InputHeight { get; init; }

        public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;

        public required PixelNormalization Normalization { get; init; }

        public ResizePolicy Resize { get; init; } = ResizePolicy.Stretch;

        public required string PooledOutputName { get; init; }

        public required int FeatureDimension { get; init; }

        public string? FeatureMapName { get; init; }

        public int? FeatureMapHeight { get; init; }

        public int? FeatureMapWidth { get; init; }

        public ImageNetHead? ImageNetHead { get; init; }

        public string Description { get; init; } = "";

        public string HowToObtain { get; init; } = "";

        public BackboneSpec ToSpec() => new()
        {
            Name = Name,
            FileName = FileName,
            Sha256 = Sha256,
            InputName = InputName,
            Preprocessing = new ImagePreprocessing { Width = InputWidth, Height = InputHeight, Layout = Layout, ChannelOrder = ChannelOrder, Normalization = Normalization, Resize = Resize },
            PooledOutputName = PooledOutputName,
            FeatureDimension = FeatureDimension,
            FeatureMapName = FeatureMapName,
            FeatureMapHeight = FeatureMapHeight,
            FeatureMapWidth = FeatureMapWidth,
            ImageNetHead = ImageNetHead,
            Description = Description,
            HowToObtain = HowToObtain,
        };
    }
}

/// <summary>Format 3 (the 0.2.0 redesign): views and nested preprocessing; the head is always logistic, fp32.</summary>
internal static class Format3Reader
{
    public static ManifestContent Read(byte[] bytes, string path) => Map(ManifestJson.Deserialize<Manifest3>(bytes, path), path, 3, HeadKinds.Name(HeadKind.Logistic), ModelBundle.Fp32);

    internal static ManifestContent Map(Manifest3 m, string path, int version, string headKind, string precision)
    {
        if (m.Backbones is not { Length: > 0 and <= ModelBundle.MaxBackbones } || m.Backbones.Any(b => b is null))
        {
            throw ModelBundle.Bad(path, $"its manifest must list 1 to {ModelBundle.MaxBackbones} backbones, not {m.Backbones.Length:N0}");
        }

        if (m.Views.Any(v => v is null))
        {
            throw ModelBundle.Bad(path, "its manifest lists a view that is null");
        }

        if (m.Views.Length is 0 or > ModelBundle.MaxViews)
        {
            throw ModelBundle.Bad(path, $"its manifest lists {m.Views.Length:N0} views; a model has 1 to {ModelBundle.MaxViews}");
        }

        ImageView[] views;
        try
        {
            views = m.Views.Select(ImageView.Parse).ToArray();
        }
        catch (ArgumentException e)
        {
            throw ModelBundle.Bad(path, $"its views are invalid: {e.Message.TrimEnd('.')}", e);
        }

        return new ManifestContent
        {
            FormatVersion = version,
            Library = m.Library,
            CreatedUtc = m.CreatedUtc,
            FeatureDimension = m.FeatureDimension,
            Specs = m.Backbones.Select(b => b.Spec).ToArray(),
            Hashes = m.Backbones.Select(b => b.ModelSha256).ToArray(),
            Views = views,
            HeadKind = headKind,
            Precision = precision,
            HeadSha256 = m.HeadSha256,
            ScalerSha256 = m.ScalerSha256,
            Training = m.Training,
        };
    }
}

/// <summary>Format 4: format 3 plus the head kind and the precision.</summary>
internal static class Format4Reader
{
    public static ManifestContent Read(byte[] bytes, string path)
    {
        var m = ManifestJson.Deserialize<Manifest4>(bytes, path);
        var calibrations = m.Backbones?.Select(b => b?.Calibration).ToArray() ?? [];
        if (calibrations.Any(c => c is not null) && calibrations.Any(c => c is null))
        {
            throw ModelBundle.Bad(path, "some backbones have an int8 calibration and others not");
        }

        return Format3Reader.Map(m, path, 4, m.Head, m.Precision) with
        {
            Calibrations = calibrations.Length > 0 && calibrations.All(c => c is not null) ? calibrations.Select((c, i) => Calibration(c!, m.Backbones![i].Spec?.Name, path)).ToArray() : null,
        };
    }

    private static QuantizationCalibration Calibration(string json, string? backbone, string path)
    {
        try
        {
            return QuantizationCalibration.FromJson(json);
        }
        catch (FormatException e)
        {
            throw ModelBundle.Bad(path, $"backbone '{backbone}' has an int8 calibration that cannot be read: {e.Message.TrimEnd('.')}", e);
        }
    }
}

/// <summary>Format 3's manifest, as written from the 0.2.0 redesign on.</summary>
internal record Manifest3
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

/// <summary>Format 4's manifest: format 3's plus the head kind, the precision and the oldest format reader that can read it.</summary>
internal sealed record Manifest4 : Manifest3
{
    /// <summary>
    /// As ML.NET's <c>VersionInfo</c> "readable" version: a reader of this format or later can read the bundle, so a later
    /// format that only adds fields can stay readable by this version.
    /// </summary>
    public int ReadableFromVersion { get; init; }

    public required string Head { get; init; }

    public required string Precision { get; init; }
}

/// <summary>A backbone in a format 3 or 4 manifest.</summary>
internal sealed record BackboneEntry
{
    public required BackboneSpec Spec { get; init; }

    public required string ModelSha256 { get; init; }

    /// <summary>
    /// Format 4, int8 models: the <see cref="QuantizationCalibration"/> JSON (kept as text, so its floats and hashes are
    /// read back exactly as written); absent for fp32. A format 4 reader without int8 refuses the model by its precision.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Calibration { get; init; }
}
