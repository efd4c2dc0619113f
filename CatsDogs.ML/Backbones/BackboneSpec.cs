using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Backbones;

/// <summary>An ImageNet classifier output: its name, and where class 0 (tench) sits in it.</summary>
/// <param name="OutputName">Name of the output (probabilities, one value per class).</param>
/// <param name="ClassCount">Number of values per image (1000, or 1001 with a background class first).</param>
/// <param name="FirstClassIndex">Index of ImageNet class 0 in the output: 1 when a background class comes first.</param>
/// <param name="LabelsFile">A text file with one class name per output index, looked up like the model file; optional.</param>
public sealed record ImageNetHead(string OutputName, int ClassCount = 1000, int FirstClassIndex = 0, string? LabelsFile = null)
{
    /// <summary>ImageNet classes 151–268: the dog breeds.</summary>
    public static bool IsDogClass(int imageNetClass) => imageNetClass is >= 151 and <= 268;

    /// <summary>ImageNet classes 281–285: the domestic cats (tabby, tiger cat, Persian, Siamese, Egyptian).</summary>
    public static bool IsCatClass(int imageNetClass) => imageNetClass is >= 281 and <= 285;
}

/// <summary>
/// Everything needed to use one set of pretrained weights correctly, in the spirit of timm's <c>pretrained_cfg</c>:
/// the file, its tensor contract and the preprocessing that the weights were trained with. Preprocessing is derived
/// from this record, never re-typed. Use <c>spec with { … }</c> for a variant.
/// </summary>
public sealed record BackboneSpec
{
    /// <summary>Catalogue name, e.g. <c>resnet18</c>; lower-case, used on the command line and in saved models.</summary>
    public required string Name { get; init; }

    /// <summary>File name of the ONNX export, looked up in the models directories.</summary>
    public required string FileName { get; init; }

    /// <summary>Expected SHA-256 of the file (lower-case hex); <c>null</c> to accept any file (user exports).</summary>
    public string? Sha256 { get; init; }

    /// <summary>Name of the image input tensor.</summary>
    public required string InputName { get; init; }

    /// <summary>How a photo becomes this network's input: size, layout, channel order, normalisation and framing.</summary>
    public required ImagePreprocessing Preprocessing { get; init; }

    /// <summary>
    /// Whether the network can run at another (square) input size than <see cref="Preprocessing"/>'s (views such as
    /// <c>native@288</c>): true when its graph pools globally and its preprocessing has no fixed-size mean image. The
    /// library then rewrites the graph's input shape in memory.
    /// </summary>
    public bool ScalableInput { get; init; }

    /// <summary>Name of the globally pooled feature output.</summary>
    public required string PooledOutputName { get; init; }

    /// <summary>Length of the pooled feature vector.</summary>
    public required int FeatureDimension { get; init; }

    /// <summary>
    /// The last convolutional feature map, the tensor that feeds the global pooling (for class activation maps).
    /// It need not be a graph output: the library exposes it when it needs it. Its layout is the input's (<see cref="ImagePreprocessing.Layout"/>).
    /// </summary>
    public string? FeatureMapName { get; init; }

    /// <summary>Height of <see cref="FeatureMapName"/>'s grid (e.g. 7 for a 224-pixel ResNet), if known.</summary>
    public int? FeatureMapHeight { get; init; }

    /// <summary>Width of <see cref="FeatureMapName"/>'s grid, if known.</summary>
    public int? FeatureMapWidth { get; init; }

    /// <summary>Whether the backbone can run in int8: the quantizer quantizes up to <see cref="FeatureMapName"/>, so the spec must name it.</summary>
    internal bool CanRunInt8 => FeatureMapName is not null;

    /// <summary>
    /// An ImageNet classifier output of the same network (e.g. MobileNetV2's <c>probabilities</c>), used by the
    /// outlier audit; <c>null</c> when the export has none.
    /// </summary>
    public ImageNetHead? ImageNetHead { get; init; }

    /// <summary>One line on the network and where its weights come from.</summary>
    public string Description { get; init; } = "";

    /// <summary>How to obtain the file when it is missing.</summary>
    public string HowToObtain { get; init; } = "";
}
