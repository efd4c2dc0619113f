namespace CatsDogs.ML.Backbones;

/// <summary>The catalogue of backbones this library knows by name; see <c>models/README.md</c> for their files.</summary>
public static class KnownBackbones
{
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
        InputWidth = 224,
        InputHeight = 224,
        ChannelOrder = ChannelOrder.Bgr,
        // Measured on the dev set's seeded 80/20 split: centre crop 0.0466 log loss / 98.4% vs. stretch 0.0588 / 97.5%.
        Resize = ResizePolicy.ShortSideCenterCrop,
        Normalization = new PixelNormalization(NormalizationKind.CaffeMeanImage, MeanImageFile: "ResNetPreprocess.onnx"),
        PooledOutputName = "Pooling395_Output_0",
        FeatureDimension = 512,
        FeatureMapName = "ReLU393_Output_0",
        Description = "ResNet18, ImageNet-pretrained (CNTK export shipped by Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1).",
        HowToObtain = "Reference the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (CatsDogs.ML does); it copies "
            + "DnnImageModels/ResNet18Onnx/ResNet18.onnx and DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx into the build output.",
    };

    /// <summary>All known backbones, in catalogue order.</summary>
    public static IReadOnlyList<BackboneSpec> All { get; } = [ResNet18];

    /// <summary>Finds a known backbone by name (case-insensitive).</summary>
    /// <exception cref="ArgumentException">No backbone has that name; the message lists the known names.</exception>
    public static BackboneSpec Get(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return All.FirstOrDefault(b => string.Equals(b.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException(
                $"Unknown backbone '{name}'. Known backbones: {string.Join(", ", All.Select(b => b.Name))}.", nameof(name));
    }
}
