using Microsoft.ML;
using Microsoft.ML.Data;

namespace CatsDogs.ML.Training;

/// <summary>
/// What the ML.NET heads share: the scaler, then an ML.NET binary classifier on the scaled features, saved in ML.NET's
/// own zip format. Prediction only calls <see cref="ITransformer.Transform"/>, so it is thread-safe.
/// </summary>
internal abstract class MlNetHead : IHead
{
    private readonly SchemaDefinition _schema;

    protected MlNetHead(MLContext ml, ITransformer model, int dimension, FeatureScaler scaler)
    {
        Ml = ml;
        Model = model;
        Dimension = dimension;
        Scaler = scaler;
        _schema = Schema(dimension);
    }

    public abstract HeadKind Kind { get; }

    public int Dimension { get; }

    public FeatureScaler Scaler { get; }

    public abstract LinearForm? LinearForm { get; }

    protected MLContext Ml { get; }

    protected ITransformer Model { get; }

    public float[] Predict(IReadOnlyList<float[]> features) => PredictScaled(features.Select(f => Scaler.Apply(f)).ToArray());

    public float[] PredictScaled(IReadOnlyList<float[]> scaled) => Transform(scaled).Select(r => r.Probability).ToArray();

    public void Save(Stream stream) =>
        Ml.Model.Save(Model, Ml.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), _schema).Schema, stream);

    /// <summary>P(dog) and the score (log-odds before calibration) for each (unscaled) feature vector, in one pass.</summary>
    public (float Probability, float Score)[] PredictWithScores(IReadOnlyList<float[]> features) =>
        Transform(features.Select(f => Scaler.Apply(f)).ToArray()).Select(r => (r.Probability, r.Score)).ToArray();

    /// <summary>Fits <paramref name="trainer"/> on already-scaled features.</summary>
    protected static ITransformer Fit(MLContext ml, IEstimator<ITransformer> trainer, IReadOnlyList<float[]> scaled, IReadOnlyList<bool> isDog) =>
        trainer.Fit(ml.Data.LoadFromEnumerable(Rows(scaled, isDog), Schema(scaled[0].Length)));

    protected static SchemaDefinition Schema(int dimension)
    {
        var schema = SchemaDefinition.Create(typeof(FeatureRow));
        schema[nameof(FeatureRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimension);
        return schema;
    }

    /// <summary>The ML.NET model parameters inside the prediction transformer.</summary>
    protected object? Parameters => (Model as IPredictionTransformer<object>)?.Model;

    private IEnumerable<ScoreRow> Transform(IReadOnlyList<float[]> scaled) =>
        Ml.Data.CreateEnumerable<ScoreRow>(Model.Transform(Ml.Data.LoadFromEnumerable(Rows(scaled, null), _schema)), reuseRowObject: false);

    private static IEnumerable<FeatureRow> Rows(IReadOnlyList<float[]> features, IReadOnlyList<bool>? isDog) =>
        features.Select((f, i) => new FeatureRow { Features = f, Label = isDog?[i] ?? false });

    protected const string LabelColumn = nameof(FeatureRow.Label);

    protected const string FeaturesColumn = nameof(FeatureRow.Features);

    private sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];

        public bool Label { get; set; }
    }

    private sealed class ScoreRow
    {
        public float Probability { get; set; }

        public float Score { get; set; }
    }
}
