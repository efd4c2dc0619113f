using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace CatsDogs.ML;

/// <summary>ML.NET catalog extensions: this library's features inside your own ML.NET pipelines.</summary>
public static class CatsDogsCatalog
{
    /// <summary>
    /// The features of <see cref="FeaturePipeline.ExtractMany"/> as an ML.NET data view: columns <c>ImagePath</c>
    /// (text), <c>Features</c> (a vector of <see cref="FeaturePipeline.Dimension"/> floats) and, when every photo is
    /// labelled, <c>Label</c> (<c>true</c> for a dog). Append any ML.NET trainer; the model it fits saves and loads with
    /// <c>MLContext.Model</c> as usual, and scores features that the same pipeline computes. The photos that could not
    /// be used are in <paramref name="features"/>' <see cref="ExtractedFeatures.Skipped"/>, not in the view.
    /// </summary>
    /// <example>
    /// <code>
    /// using var pipeline = FeaturePipeline.Open(new FeatureOptions());
    /// var extracted = pipeline.ExtractMany(ImageDataset.FromFolder("train"));
    /// var data = ml.Data.LoadFeatures(extracted);
    /// var model = ml.Transforms.NormalizeMeanVariance("Features")
    ///     .Append(ml.BinaryClassification.Trainers.LbfgsLogisticRegression("Label", "Features")).Fit(data);
    /// ml.Model.Save(model, data.Schema, "head.zip");
    /// </code>
    /// </example>
    /// <exception cref="ArgumentException">Some photos are labelled and some are not.</exception>
    public static IDataView LoadFeatures(this DataOperationsCatalog catalog, ExtractedFeatures features)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(features);
        var dimension = features.Features.Count == 0 ? 0 : features.Features[0].Length;
        var definition = SchemaDefinition.Create(typeof(LabelledRow));
        definition[nameof(LabelledRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimension);
        var labelled = features.Images.Count(e => e.Label is not null);
        if (labelled == features.Images.Count)
        {
            return catalog.LoadFromEnumerable(
                features.Images.Select((e, i) => new LabelledRow { ImagePath = e.Path, Label = e.Label == PetLabel.Dog, Features = features.Features[i] }).ToArray(), definition);
        }

        if (labelled > 0)
        {
            throw new ArgumentException($"'{features.Images.First(e => e.Label is null).Path}' has no label while {labelled} other photos have one: load labelled and unlabelled photos separately.", nameof(features));
        }

        var unlabelled = SchemaDefinition.Create(typeof(Row));
        unlabelled[nameof(Row.Features)].ColumnType = definition[nameof(LabelledRow.Features)].ColumnType;
        return catalog.LoadFromEnumerable(features.Images.Select((e, i) => new Row { ImagePath = e.Path, Features = features.Features[i] }).ToArray(), unlabelled);
    }

    private class Row
    {
        public string ImagePath { get; set; } = "";

        public float[] Features { get; set; } = [];
    }

    private sealed class LabelledRow : Row
    {
        public bool Label { get; set; }
    }
}
