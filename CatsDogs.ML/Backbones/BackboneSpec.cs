using System.Globalization;
using System.Text.Json.Serialization;

namespace CatsDogs.ML.Backbones;

/// <summary>Memory order of the input tensor.</summary>
public enum TensorLayout
{
    /// <summary>[batch, channel, height, width] (PyTorch, CNTK, the ONNX files shipped here).</summary>
    Nchw,

    /// <summary>[batch, height, width, channel] (Keras / TensorFlow exports).</summary>
    Nhwc,
}

/// <summary>Order of the colour channels the network was trained on.</summary>
public enum ChannelOrder
{
    /// <summary>Red, green, blue.</summary>
    Rgb,

    /// <summary>Blue, green, red (Caffe-style networks).</summary>
    Bgr,
}

/// <summary>How pixel values (0..255, in the spec's channel order) are turned into network inputs.</summary>
public enum NormalizationKind
{
    /// <summary>Raw 0..255 values; the network scales them itself.</summary>
    Raw,

    /// <summary>"caffe": subtract a per-channel mean (<see cref="PixelNormalization.Mean"/>, in channel order).</summary>
    CaffeMean,

    /// <summary>"caffe" with a per-pixel mean image read from <see cref="PixelNormalization.MeanImageFile"/>.</summary>
    CaffeMeanImage,

    /// <summary>"tf": x / 127.5 − 1, i.e. [-1, 1].</summary>
    Tf,

    /// <summary>"torch": (x / 255 − mean) / std with <see cref="PixelNormalization.Mean"/> and <see cref="PixelNormalization.Std"/>.</summary>
    Torch,
}

/// <summary>How a photo is brought to the network's input size.</summary>
public enum ResizePolicy
{
    /// <summary>Scale the whole photo to the input size, ignoring aspect ratio (Keras <c>load_img(target_size=…)</c>).</summary>
    Stretch,

    /// <summary>Scale the short side to the input size and crop the centre (torchvision's Resize + CenterCrop).</summary>
    ShortSideCenterCrop,
}

/// <summary>Pixel normalisation of a backbone; see <see cref="NormalizationKind"/>.</summary>
/// <param name="Kind">The normalisation family.</param>
/// <param name="Mean">Per-channel means in the spec's channel order (CaffeMean: 0..255 units; Torch: 0..1 units).</param>
/// <param name="Std">Per-channel standard deviations (Torch, 0..1 units).</param>
/// <param name="MeanImageFile">File name of an ONNX graph that subtracts a mean image (CaffeMeanImage).</param>
public sealed record PixelNormalization(
    NormalizationKind Kind,
    IReadOnlyList<float>? Mean = null,
    IReadOnlyList<float>? Std = null,
    string? MeanImageFile = null)
{
    /// <summary>Raw 0..255 values.</summary>
    public static PixelNormalization Raw { get; } = new(NormalizationKind.Raw);

    /// <summary>Keras "tf" mode: [-1, 1].</summary>
    public static PixelNormalization Tf { get; } = new(NormalizationKind.Tf);

    /// <summary>Keras "caffe" mode: BGR minus the ImageNet channel means (103.939, 116.779, 123.68).</summary>
    public static PixelNormalization Caffe { get; } = new(NormalizationKind.CaffeMean, [103.939f, 116.779f, 123.68f]);

    /// <summary>torchvision's ImageNet mean/std in RGB order.</summary>
    public static PixelNormalization Torch { get; } = new(NormalizationKind.Torch, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    /// <summary>A culture-invariant text that changes whenever the normalisation's effect could change.</summary>
    [JsonIgnore]
    public string Signature => string.Join(
        ';',
        Kind.ToString(),
        Format(Mean),
        Format(Std),
        MeanImageFile ?? "");

    private static string Format(IReadOnlyList<float>? values) =>
        values is null ? "" : string.Join(',', values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
}

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

    /// <summary>Memory order of the input tensor.</summary>
    public TensorLayout Layout { get; init; } = TensorLayout.Nchw;

    /// <summary>Input width in pixels.</summary>
    public required int InputWidth { get; init; }

    /// <summary>Input height in pixels.</summary>
    public required int InputHeight { get; init; }

    /// <summary>Channel order of the input.</summary>
    public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;

    /// <summary>Value range and normalisation of the input.</summary>
    public required PixelNormalization Normalization { get; init; }

    /// <summary>How photos are resized to the input.</summary>
    public ResizePolicy Resize { get; init; } = ResizePolicy.Stretch;

    /// <summary>Name of the globally pooled feature output.</summary>
    public required string PooledOutputName { get; init; }

    /// <summary>Length of the pooled feature vector.</summary>
    public required int FeatureDimension { get; init; }

    /// <summary>
    /// The last convolutional feature map, the tensor that feeds the global pooling (for class activation maps).
    /// It need not be a graph output: the library exposes it when it needs it. Its layout is <see cref="Layout"/>.
    /// </summary>
    public string? FeatureMapName { get; init; }

    /// <summary>Height of <see cref="FeatureMapName"/>'s grid (e.g. 7 for a 224-pixel ResNet), if known.</summary>
    public int? FeatureMapHeight { get; init; }

    /// <summary>Width of <see cref="FeatureMapName"/>'s grid, if known.</summary>
    public int? FeatureMapWidth { get; init; }

    /// <summary>
    /// An ImageNet classifier output of the same network (e.g. MobileNetV2's <c>probabilities</c>), used by the
    /// outlier audit; <c>null</c> when the export has none.
    /// </summary>
    public ImageNetHead? ImageNetHead { get; init; }

    /// <summary>One line on the network and where its weights come from.</summary>
    public string Description { get; init; } = "";

    /// <summary>How to obtain the file when it is missing.</summary>
    public string HowToObtain { get; init; } = "";

    /// <summary>
    /// A culture-invariant text that changes whenever the tensor fed to the network could change for the same photo;
    /// part of every feature-cache key.
    /// </summary>
    [JsonIgnore]
    public string PreprocessingSignature => string.Join(
        '|',
        "layout=" + Layout,
        "size=" + InputWidth.ToString(CultureInfo.InvariantCulture) + "x" + InputHeight.ToString(CultureInfo.InvariantCulture),
        "order=" + ChannelOrder,
        "norm=" + Normalization.Signature,
        "resize=" + Resize,
        "decoder=" + Imaging.ImageDecoder.Version);
}
