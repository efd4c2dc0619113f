namespace CatsDogs.ML.Backbones;

/// <summary>Checks that a spec is self-consistent before any file is opened.</summary>
internal static class BackboneSpecChecks
{
    public static void ThrowIfInvalid(BackboneSpec spec)
    {
        string? problem = spec switch
        {
            { Name: var n } when string.IsNullOrWhiteSpace(n) || n.Any(c => char.IsWhiteSpace(c) || c == ',') =>
                $"the name '{n}' must be non-empty, without spaces or commas",
            { FileName: var f } when string.IsNullOrWhiteSpace(f) => "it names no file",
            { InputName: var i } when string.IsNullOrWhiteSpace(i) => "it names no input",
            { PooledOutputName: var o } when string.IsNullOrWhiteSpace(o) => "it names no pooled output",
            { InputWidth: <= 0 } or { InputHeight: <= 0 } => $"the input size {spec.InputWidth}×{spec.InputHeight} is not positive",
            { FeatureDimension: <= 0 } => $"the feature dimension {spec.FeatureDimension} is not positive",
            { FeatureMapHeight: <= 0 } or { FeatureMapWidth: <= 0 } => "the feature map's grid is not positive",
            { Normalization: { Kind: NormalizationKind.CaffeMean, Mean: not { Count: 3 } } } => "\"caffe\" normalisation needs three channel means",
            { Normalization: { Kind: NormalizationKind.Torch } n } when n.Mean is not { Count: 3 } || n.Std is not { Count: 3 } || n.Std.Any(s => s <= 0) =>
                "\"torch\" normalisation needs three means and three positive standard deviations",
            { Normalization: { Kind: NormalizationKind.CaffeMeanImage, MeanImageFile: null or "" } } => "a mean-image normalisation needs MeanImageFile",
            { ImageNetHead: { } h } when string.IsNullOrWhiteSpace(h.OutputName) || h.ClassCount < 1000 || h.FirstClassIndex < 0 || h.FirstClassIndex + 1000 > h.ClassCount =>
                "its ImageNet head must name an output holding the 1000 ImageNet classes from FirstClassIndex",
            _ => null,
        };
        if (problem is not null)
        {
            throw new ArgumentException($"Backbone spec '{spec.Name}' is invalid: {problem}.", nameof(spec));
        }
    }
}
