using CatsDogs.ML.Features;
using Microsoft.ML;

namespace CatsDogs.ML;

/// <summary>ML.NET catalog extensions: use this library's pieces inside your own ML.NET pipelines.</summary>
public static class CatsDogsCatalog
{
    /// <summary>
    /// Adds <paramref name="outputColumnName"/>: the concatenated pooled features of <paramref name="options"/>'s
    /// backbones (default ResNet18) for the image whose path is in <paramref name="imagePathColumnName"/>.
    /// </summary>
    /// <example>
    /// <code>
    /// var pipeline = ml.Transforms.ExtractBackboneFeatures("Features", "ImagePath")
    ///     .Append(ml.BinaryClassification.Trainers.LbfgsLogisticRegression("Label", "Features"));
    /// </code>
    /// </example>
    public static BackboneFeaturizer ExtractBackboneFeatures(
        this TransformsCatalog catalog, string outputColumnName, string imagePathColumnName, CatsDogsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        ArgumentException.ThrowIfNullOrEmpty(imagePathColumnName);
        return new BackboneFeaturizer(outputColumnName, imagePathColumnName, (options ?? new CatsDogsOptions()).Features);
    }
}
