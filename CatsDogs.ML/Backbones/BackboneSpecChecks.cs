using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Backbones;

/// <summary>Checks that a spec is self-consistent and within sane bounds before any file is opened.</summary>
internal static class BackboneSpecChecks
{
    /// <summary>Largest input side accepted (pixels): beyond it a single tensor would not fit the int-sized buffers.</summary>
    public const int MaxInputSide = 4096;

    /// <summary>Largest pooled feature dimension accepted.</summary>
    public const int MaxFeatureDimension = 65536;

    /// <exception cref="ArgumentException">The spec is invalid; the message says what is wrong.</exception>
    public static void ThrowIfInvalid(BackboneSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var problem = Problem(spec);
        if (problem is not null)
        {
            throw new ArgumentException($"Backbone spec '{spec.Name}' is invalid: {problem}.");
        }
    }

    /// <summary>Whether <paramref name="fileName"/> is a bare file name (no folder, no parent reference).</summary>
    public static bool IsBareFileName(string? fileName) =>
        !string.IsNullOrWhiteSpace(fileName) && fileName == Path.GetFileName(fileName) && fileName is not ("." or "..")
        && fileName.IndexOfAny(['/', '\\', '\0']) < 0 && !Path.IsPathRooted(fileName);

    private static string? Problem(BackboneSpec spec) => spec switch
    {
        { Name: var n } when string.IsNullOrWhiteSpace(n) || n.Length > 64 || n.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')) =>
            $"the name '{n}' must be 1–64 ASCII letters, digits, '_', '-' or '.'",
        { FileName: var f } when !IsBareFileName(f) =>
            $"the file name '{f}' must be a bare file name, looked up in the models folders (no folder part)",
        { Sha256: { } h } when h.Length != 64 || !h.All(char.IsAsciiHexDigit) => "its SHA-256 must be 64 hexadecimal digits",
        { InputName: var i } when string.IsNullOrWhiteSpace(i) => "it names no input",
        { PooledOutputName: var o } when string.IsNullOrWhiteSpace(o) => "it names no pooled output",
        { Preprocessing: null } => "it has no preprocessing",
        { Preprocessing: { Width: < 16 or > MaxInputSide } or { Height: < 16 or > MaxInputSide } } =>
            $"the input size {spec.Preprocessing.Width}×{spec.Preprocessing.Height} is outside 16…{MaxInputSide} pixels",
        { FeatureDimension: <= 0 or > MaxFeatureDimension } => $"the feature dimension {spec.FeatureDimension} is outside 1…{MaxFeatureDimension}",
        { FeatureMapHeight: <= 0 or > 1024 } or { FeatureMapWidth: <= 0 or > 1024 } => "the feature map's grid is outside 1…1024",
        { Preprocessing.Normalization: null } => "it has no normalisation",
        { Preprocessing: var p } when !Enum.IsDefined(p.Layout) || !Enum.IsDefined(p.ChannelOrder) || !Enum.IsDefined(p.Resize) || !Enum.IsDefined(p.Normalization.Kind) =>
            "its layout, channel order, resize policy or normalisation kind is not one of the known values",
        { Preprocessing.Normalization: { Kind: NormalizationKind.CaffeMean, Mean: not { Count: 3 } } } => "\"caffe\" normalisation needs three channel means",
        { Preprocessing.Normalization: { } n } when n.Mean?.Any(v => !float.IsFinite(v)) == true || n.Std?.Any(v => !float.IsFinite(v)) == true =>
            "its normalisation has a value that is not a finite number",
        { Preprocessing.Normalization: { Kind: NormalizationKind.Torch } n } when n.Mean is not { Count: 3 } || n.Std is not { Count: 3 } || n.Std.Any(s => s <= 0) =>
            "\"torch\" normalisation needs three means and three positive standard deviations",
        { Preprocessing.Normalization: { Kind: NormalizationKind.CaffeMeanImage, MeanImageFile: var m } } when !IsBareFileName(m) =>
            "a mean-image normalisation needs MeanImageFile, a bare file name",
        { ImageNetHead: { } h } when string.IsNullOrWhiteSpace(h.OutputName) || h.ClassCount is < 1000 or > 100_000 || h.FirstClassIndex < 0 || h.FirstClassIndex + 1000 > h.ClassCount =>
            "its ImageNet head must name an output holding the 1000 ImageNet classes from FirstClassIndex",
        { ImageNetHead.LabelsFile: { } l } when !IsBareFileName(l) => $"its labels file '{l}' must be a bare file name",
        _ => null,
    };
}
