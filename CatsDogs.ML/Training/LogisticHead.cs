using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace CatsDogs.ML.Training;

/// <summary>
/// The trained head: ML.NET's mean/variance normaliser followed by L-BFGS logistic regression on the concatenated
/// features, giving P(dog). Wraps the ML.NET model, which is what gets saved.
/// <see cref="Predict"/> is thread-safe (it only calls <see cref="ITransformer.Transform"/>).
/// </summary>
internal sealed class LogisticHead
{
    private readonly MLContext _ml;
    private readonly ITransformer _model;
    private readonly SchemaDefinition _schema;

    private LogisticHead(MLContext ml, ITransformer model, int dimension)
    {
        _ml = ml;
        _model = model;
        Dimension = dimension;
        _schema = Schema(dimension);
    }

    /// <summary>Feature vector length.</summary>
    public int Dimension { get; }

    /// <summary>Fits the head with L2 weight <paramref name="l2"/> (no L1), single-threaded and so deterministic.</summary>
    public static LogisticHead Fit(IReadOnlyList<float[]> features, IReadOnlyList<bool> isDog, float l2, int seed)
    {
        var dimension = features[0].Length;
        var ml = new MLContext(seed);
        var data = ml.Data.LoadFromEnumerable(Rows(features, isDog), Schema(dimension));
        var pipeline = ml.Transforms.NormalizeMeanVariance(nameof(FeatureRow.Features))
            .Append(ml.BinaryClassification.Trainers.LbfgsLogisticRegression(new LbfgsLogisticRegressionBinaryTrainer.Options
            {
                LabelColumnName = nameof(FeatureRow.Label),
                FeatureColumnName = nameof(FeatureRow.Features),
                L1Regularization = 0,
                L2Regularization = l2,
                NumberOfThreads = 1,
                OptimizationTolerance = 1e-8f,
                MaximumNumberOfIterations = 1000,
            }));
        return new LogisticHead(ml, pipeline.Fit(data), dimension);
    }

    /// <summary>P(dog) for each feature vector.</summary>
    public float[] Predict(IReadOnlyList<float[]> features)
    {
        var data = _ml.Data.LoadFromEnumerable(Rows(features, null), _schema);
        return _ml.Data.CreateEnumerable<ScoreRow>(_model.Transform(data), reuseRowObject: false)
            .Select(r => r.Probability)
            .ToArray();
    }

    /// <summary>Saves the ML.NET model (its own zip format).</summary>
    public void Save(Stream stream)
    {
        _ml.Model.Save(_model, _ml.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), _schema).Schema, stream);
    }

    /// <summary>Loads a head saved by <see cref="Save"/>.</summary>
    public static LogisticHead Load(Stream stream, int dimension)
    {
        var ml = new MLContext(0);
        var model = ml.Model.Load(stream, out _);
        return new LogisticHead(ml, model, dimension);
    }

    private static SchemaDefinition Schema(int dimension)
    {
        var schema = SchemaDefinition.Create(typeof(FeatureRow));
        schema[nameof(FeatureRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimension);
        return schema;
    }

    private static IEnumerable<FeatureRow> Rows(IReadOnlyList<float[]> features, IReadOnlyList<bool>? isDog) =>
        features.Select((f, i) => new FeatureRow { Features = f, Label = isDog?[i] ?? false });

    private sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];

        public bool Label { get; set; }
    }

    private sealed class ScoreRow
    {
        public float Probability { get; set; }
    }
}
