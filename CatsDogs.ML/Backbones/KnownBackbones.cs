using CatsDogs.ML.Imaging;

namespace CatsDogs.ML.Backbones;

/// <summary>
/// The catalogue of backbones this library knows by name; see <c>models/README.md</c> for their files. Four are real
/// ImageNet weights available today (<see cref="ResNet18"/> from NuGet, the three MobileNets); four are the Keras
/// applications of the original Kaggle work, for ONNX exports you make yourself.
/// </summary>
public static class KnownBackbones
{
    private const string SharedMobileNets = "The three MobileNet ONNX files are converted from the TensorFlow Lite files of google-coral/test_data "
        + "(commit 104342d2d3480b3e66203073dac24f4e2dbb4c41, Apache-2.0); see models/README.md. Put the file in the models directory "
        + "(--models-dir or $CATSDOGS_MODELS_DIR); on the project's machines it is ../shared/models.";

    /// <summary>
    /// ResNet18 (ImageNet) as shipped by NuGet's <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> 0.23.1: CNTK export,
    /// short side to 224 and centre crop, BGR minus the mean image of <c>ResNetPreprocess.onnx</c>, 512-d average-pooled output. The default backbone.
    /// </summary>
    public static BackboneSpec ResNet18 { get; } = new()
    {
        Name = "resnet18",
        FileName = "ResNet18.onnx",
        Sha256 = "e2552f19db2dfdb01b3669537b6a0f1b44da38d18279535492ed5dfc2ef1ff8f",
        InputName = "Input247",
        Preprocessing = new ImagePreprocessing
        {
            Width = 224,
            Height = 224,
            ChannelOrder = ChannelOrder.Bgr,
            // Measured on the dev set's seeded 80/20 split: centre crop 0.0466 log loss / 98.4% vs. stretch 0.0588 / 97.5%.
            Resize = ResizePolicy.ShortSideCenterCrop,
            Normalization = new PixelNormalization(NormalizationKind.CaffeMeanImage, MeanImageFile: "ResNetPreprocess.onnx"),
        },
        // Not scalable: its pooling is an AveragePool with a fixed 7×7 kernel (global only at 224 px) and its
        // preprocessing subtracts a 224×224 mean image.
        ScalableInput = false,
        PooledOutputName = "Pooling395_Output_0",
        FeatureDimension = 512,
        FeatureMapName = "ReLU393_Output_0",
        FeatureMapHeight = 7,
        FeatureMapWidth = 7,
        Description = "ResNet18, ImageNet-pretrained (CNTK export shipped by Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1).",
        HowToObtain = "Reference the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (CatsDogs.ML does); it copies "
            + "DnnImageModels/ResNet18Onnx/ResNet18.onnx and DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx into the build output.",
    };

    /// <summary>MobileNetV2 1.0 at 224 px (TF1 slim weights, quantisation-aware training, dequantised): 1280-d, with an ImageNet head.</summary>
    public static BackboneSpec MobileNetV2 { get; } = MobileNet(
        "mobilenet_v2",
        "mobilenet_v2_1.0_224.onnx",
        "fe1dec46dc246ced41f8ccce8e1403b0cf50ca52c16f6101b4d7bd8358f8b475",
        1280,
        "act_273",
        "MobileNetV2 1.0, 224 px, ImageNet (TF1 slim, quantisation-aware training; dequantised to float32). Global average pooling node.",
        withHead: true);

    /// <summary>MobileNetV2 1.0 at 224 px (Keras weights, post-training quantised, dequantised): 1280-d, with an ImageNet head.</summary>
    public static BackboneSpec MobileNetV2Tf2 { get; } = MobileNet(
        "mobilenet_v2_tf2",
        "mobilenet_v2_1.0_224_tf2.onnx",
        "5f50d2f916a2e458a8393ff23853f813319217016f9fbac132be021c4eceb5eb",
        1280,
        "act_273",
        "MobileNetV2 1.0, 224 px, ImageNet (Keras weights, post-training quantised; dequantised to float32). ReduceMean pooling.",
        withHead: true);

    /// <summary>MobileNetV1 1.0 at 224 px (embedding extractor, no classifier): 1024-d.</summary>
    public static BackboneSpec MobileNetV1 { get; } = MobileNet(
        "mobilenet_v1",
        "mobilenet_v1_1.0_224.onnx",
        "f9ea291df1149b20b7bead4e8bb1bbe257f86aa7ffab0870d8da425352acf2fe",
        1024,
        "act_164",
        "MobileNetV1 1.0, 224 px, ImageNet (TF1 slim embedding extractor, quantised; dequantised to float32). No classifier.",
        withHead: false);

    /// <summary>Keras <c>ResNet50</c> (ImageNet), "caffe" preprocessing, 224 px NHWC: 2048-d. Export it yourself (models/README.md).</summary>
    public static BackboneSpec ResNet50 { get; } = Keras("resnet50", "resnet50_keras.onnx", 224, PixelNormalization.Caffe, ChannelOrder.Bgr, 2048, "conv5_block3_out", 7, "ResNet50");

    /// <summary>Keras <c>InceptionV3</c> (ImageNet), "tf" preprocessing, 299 px NHWC: 2048-d. Export it yourself (models/README.md).</summary>
    public static BackboneSpec InceptionV3 { get; } = Keras("inception_v3", "inception_v3_keras.onnx", 299, PixelNormalization.Tf, ChannelOrder.Rgb, 2048, "mixed10", 8, "InceptionV3");

    /// <summary>Keras <c>Xception</c> (ImageNet), "tf" preprocessing, 299 px NHWC: 2048-d. Export it yourself (models/README.md).</summary>
    public static BackboneSpec Xception { get; } = Keras("xception", "xception_keras.onnx", 299, PixelNormalization.Tf, ChannelOrder.Rgb, 2048, "block14_sepconv2_act", 10, "Xception");

    /// <summary>Keras <c>InceptionResNetV2</c> (ImageNet), "tf" preprocessing, 299 px NHWC: 1536-d. Export it yourself (models/README.md).</summary>
    public static BackboneSpec InceptionResNetV2 { get; } = Keras("inception_resnet_v2", "inception_resnet_v2_keras.onnx", 299, PixelNormalization.Tf, ChannelOrder.Rgb, 1536, "conv_7b_ac", 8, "InceptionResNetV2");

    /// <summary>All known backbones, in catalogue order: the four available here first, then the Keras exports.</summary>
    public static IReadOnlyList<BackboneSpec> All { get; } = [ResNet18, MobileNetV2, MobileNetV2Tf2, MobileNetV1, ResNet50, InceptionV3, Xception, InceptionResNetV2];

    /// <summary>Finds a known backbone by name (case-insensitive); <see cref="BackboneCatalog"/> adds your own.</summary>
    /// <exception cref="ArgumentException">No backbone has that name; the message lists the known names.</exception>
    public static BackboneSpec Get(string name) => BackboneCatalog.Default.Get(name);

    private static BackboneSpec MobileNet(string name, string file, string sha256, int dimension, string featureMap, string description, bool withHead) => new()
    {
        Name = name,
        FileName = file,
        Sha256 = sha256,
        InputName = "input",
        Preprocessing = new ImagePreprocessing
        {
            Width = 224,
            Height = 224,
            ChannelOrder = ChannelOrder.Rgb,
            // The graphs scale (x - 128) / 128 themselves.
            Normalization = PixelNormalization.Raw,
            Resize = ResizePolicy.ShortSideCenterCrop,
        },
        // GlobalAveragePool (or ReduceMean over H and W) and no mean image: any input size works.
        ScalableInput = true,
        PooledOutputName = "features",
        FeatureDimension = dimension,
        FeatureMapName = featureMap,
        FeatureMapHeight = 7,
        FeatureMapWidth = 7,
        ImageNetHead = withHead ? new ImageNetHead("probabilities", 1001, FirstClassIndex: 1, LabelsFile: "imagenet_labels.txt") : null,
        Description = description,
        HowToObtain = SharedMobileNets,
    };

    private static BackboneSpec Keras(string name, string file, int size, PixelNormalization normalization, ChannelOrder order, int dimension, string featureMap, int grid, string application) => new()
    {
        Name = name,
        FileName = file,
        Sha256 = null,
        InputName = "input",
        Preprocessing = new ImagePreprocessing
        {
            Layout = TensorLayout.Nhwc,
            Width = size,
            Height = size,
            ChannelOrder = order,
            Normalization = normalization,
            // Keras' load_img(target_size=…) and the original work scale the whole photo to the input size.
            Resize = ResizePolicy.Stretch,
        },
        // The export recipe pools with GlobalAveragePooling2D.
        ScalableInput = true,
        PooledOutputName = "features",
        FeatureDimension = dimension,
        FeatureMapName = featureMap,
        FeatureMapHeight = grid,
        FeatureMapWidth = grid,
        Description = $"Keras applications {application}, ImageNet weights, include_top=False; your own ONNX export (tf2onnx), NHWC {size}×{size}.",
        HowToObtain = $"Its weights cannot be downloaded by this library: export tf.keras.applications.{application}(weights=\"imagenet\", include_top=False) "
            + $"with tf2onnx as models/README.md shows (input 'input' [N,{size},{size},3], outputs 'features' and '{featureMap}'), save it as '{file}' "
            + "in your models directory (--models-dir or $CATSDOGS_MODELS_DIR).",
    };
}
