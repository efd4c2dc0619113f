using CatsDogs.ML.Imaging;
using CatsDogs.ML.Training;

namespace CatsDogs.ML.Persistence;

/// <summary>What a saved model says about itself (<see cref="CatsDogsClassifier.Inspect"/>).</summary>
/// <param name="Path">The bundle's full path.</param>
/// <param name="FormatVersion">The saved-model format it was written in (2 and later load).</param>
/// <param name="Library">The CatsDogs.ML version that wrote it.</param>
/// <param name="CreatedUtc">When it was trained.</param>
/// <param name="Backbones">Its backbones in feature order.</param>
/// <param name="Views">The views features are averaged over.</param>
/// <param name="Head">The head's kind.</param>
/// <param name="Capabilities">What that kind of head can do.</param>
/// <param name="Precision">The backbones' arithmetic (<c>fp32</c>).</param>
/// <param name="Training">What training did; <c>null</c> when not recorded.</param>
public sealed record ModelInfo(
    string Path,
    int FormatVersion,
    string Library,
    DateTime CreatedUtc,
    IReadOnlyList<ModelBackbone> Backbones,
    IReadOnlyList<ImageView> Views,
    HeadKind Head,
    HeadCapabilities Capabilities,
    string Precision,
    TrainingSummary? Training);

/// <summary>A backbone as a saved model records it.</summary>
/// <param name="Name">Its catalogue name.</param>
/// <param name="FileName">The ONNX file it is loaded from.</param>
/// <param name="FeatureDimension">Its pooled feature length.</param>
/// <param name="Sha256">The SHA-256 of the file the model was trained with.</param>
public sealed record ModelBackbone(string Name, string FileName, int FeatureDimension, string Sha256);
