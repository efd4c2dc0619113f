using CatsDogs.ML.Data;
using CatsDogs.ML.Tests.Harness;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;

namespace CatsDogs.ML.Tests.Features;

[Collection("trained resnet18")]
public class BackboneFeaturizerTests(HelloWorldFixture trained)
{
    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void ExtractBackboneFeatures_ComposesWithAnMLNetTrainer()
    {
        var ml = new MLContext(seed: 1);
        Row ToRow(ImageEntry e) => new() { ImagePath = e.Path, Label = e.Label == PetLabel.Dog };
        var train = ml.Data.LoadFromEnumerable(trained.Train!.Shuffle(4).Take(300).Select(ToRow));
        var test = trained.Test!.Shuffle(5).Take(200).Select(ToRow).ToList();
        test.Add(new Row { ImagePath = "/no/such/photo.jpg", Label = true });

        using var featurizer = ml.Transforms.ExtractBackboneFeatures("Features", nameof(Row.ImagePath)).Fit(train);
        var head = ml.BinaryClassification.Trainers.LbfgsLogisticRegression(nameof(Row.Label), "Features").Fit(featurizer.Transform(train));

        var testFeatures = featurizer.Transform(ml.Data.LoadFromEnumerable(test));
        var features = testFeatures.GetColumn<float[]>("Features").ToArray();
        Assert.Equal(201, features.Length);
        Assert.Equal(512, features[0].Length);
        Assert.All(features[^1], v => Assert.True(float.IsNaN(v))); // the missing photo
        Assert.Equal("/no/such/photo.jpg", Assert.Single(featurizer.Skipped).Image.Path);

        var metrics = ml.BinaryClassification.Evaluate(head.Transform(featurizer.Transform(ml.Data.LoadFromEnumerable(test.Take(200)))), nameof(Row.Label));
        Assert.InRange(metrics.Accuracy, 0.9, 1);
    }

    internal sealed class Row
    {
        public string ImagePath { get; set; } = "";

        public bool Label { get; set; }
    }
}

/// <summary>The estimator's schema, without opening any model.</summary>
[Trait("Category", Category.Unit)]
public class BackboneFeaturizerSchemaTests
{
    [Fact]
    public void GetOutputSchema_FeedsAnMLNetTrainer()
    {
        var ml = new MLContext(seed: 1);
        var input = ml.Data.LoadFromEnumerable(Array.Empty<BackboneFeaturizerTests.Row>());
        // ML.NET hides SchemaShape.Create from callers; estimator chains reach it the same way.
        var shape = (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic, [typeof(DataViewSchema)])!
            .Invoke(null, [input.Schema])!;

        var pipeline = ml.Transforms.ExtractBackboneFeatures("Features", nameof(BackboneFeaturizerTests.Row.ImagePath))
            .Append(ml.BinaryClassification.Trainers.LbfgsLogisticRegression(nameof(BackboneFeaturizerTests.Row.Label), "Features"));
        var output = pipeline.GetOutputSchema(shape);

        var features = Assert.Single(output, c => c.Name == "Features");
        Assert.Equal(SchemaShape.Column.VectorKind.Vector, features.Kind);
        Assert.Contains(output, c => c.Name == "Probability");
        Assert.Throws<ArgumentException>(() => ml.Transforms.ExtractBackboneFeatures("Features", "NoSuchColumn").GetOutputSchema(shape));
    }
}
