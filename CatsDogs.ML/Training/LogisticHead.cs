using Microsoft.ML;
using Microsoft.ML.Calibrators;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace CatsDogs.ML.Training;

/// <summary>
/// The trained head: a <see cref="FeatureScaler"/> (standardisation and backbone block weights) followed by ML.NET's
/// L-BFGS logistic regression on the concatenated features, giving P(dog). The ML.NET model is what gets saved, beside
/// the scaler.
/// <see cref="Predict"/> is thread-safe (it only calls <see cref="ITransformer.Transform"/>).
/// </summary>
internal sealed class LogisticHead
{
    private readonly MLContext _ml;
    private readonly ITransformer _model;
    private readonly SchemaDefinition _schema;

    private LogisticHead(MLContext ml, ITransformer model, int dimension, FeatureScaler scaler)
    {
        _ml = ml;
        _model = model;
        Dimension = dimension;
        Scaler = scaler;
        _schema = Schema(dimension);
    }

    /// <summary>Feature vector length.</summary>
    public int Dimension { get; }

    /// <summary>The scaler applied before the ML.NET model.</summary>
    public FeatureScaler Scaler { get; }

    /// <summary>
    /// Fits the logistic regression on already-scaled features with L2 weight <paramref name="l2"/> (no L1),
    /// single-threaded and so deterministic; <paramref name="scaler"/> is what <see cref="Predict"/> will apply.
    /// </summary>
    public static LogisticHead Fit(IReadOnlyList<float[]> scaled, IReadOnlyList<bool> isDog, float l2, int seed, FeatureScaler scaler)
    {
        var dimension = scaled[0].Length;
        var ml = new MLContext(seed);
        var data = ml.Data.LoadFromEnumerable(Rows(scaled, isDog), Schema(dimension));
        var pipeline = ml.BinaryClassification.Trainers.LbfgsLogisticRegression(new LbfgsLogisticRegressionBinaryTrainer.Options
            {
                LabelColumnName = nameof(FeatureRow.Label),
                FeatureColumnName = nameof(FeatureRow.Features),
                L1Regularization = 0,
                L2Regularization = l2,
                NumberOfThreads = 1,
                OptimizationTolerance = 1e-8f,
                MaximumNumberOfIterations = 1000,
            });
        return new LogisticHead(ml, pipeline.Fit(data), dimension, scaler);
    }

    /// <summary>
    /// The head as one affine function of the raw (unscaled) features, with the scaler folded in:
    /// score = <c>Bias</c> + Σ_j <c>Weights[j]</c>·f_j, and P(dog) = the calibrated sigmoid of the score. Class
    /// activation maps weight each backbone's feature map with its slice of these weights.
    /// </summary>
    public (float[] Weights, double Bias) RawLinearForm()
    {
        // The transformer's model is a calibrated linear model whose SubModel holds the weights.
        var linear = (_model as IPredictionTransformer<object>)?.Model switch
        {
            CalibratedModelParametersBase<LinearBinaryModelParameters, PlattCalibrator> platt => platt.SubModel,
            CalibratedModelParametersBase<LinearBinaryModelParameters, ICalibrator> calibrated => calibrated.SubModel,
            LinearBinaryModelParameters plain => plain,
            var other => throw new InvalidOperationException($"The head's model is {other?.GetType().Name ?? "missing"}, not an ML.NET linear binary model."),
        };
        var weights = new float[Dimension];
        double bias = linear.Bias;
        var w = linear.Weights;
        for (var j = 0; j < Dimension; j++)
        {
            weights[j] = w[j] * Scaler.Scale[j];
            bias -= (double)weights[j] * Scaler.Mean[j];
        }

        return (weights, bias);
    }

    /// <summary>
    /// The calibrator that turns the score into P(dog): P = 1 / (1 + exp(<c>Slope</c> × score + <c>Offset</c>)) (ML.NET's
    /// Platt calibrator; for a logistic regression slope −1 and offset 0, i.e. the sigmoid of the score).
    /// </summary>
    /// <exception cref="InvalidOperationException">The model is not calibrated by a Platt calibrator.</exception>
    public (double Slope, double Offset) Calibrator() => (_model as IPredictionTransformer<object>)?.Model switch
    {
        CalibratedModelParametersBase<LinearBinaryModelParameters, PlattCalibrator> platt => (platt.Calibrator.Slope, platt.Calibrator.Offset),
        var other => throw new InvalidOperationException($"The head's model is {other?.GetType().Name ?? "missing"}, not a Platt-calibrated linear model."),
    };

    /// <summary>P(dog) and the linear score (log-odds before calibration) for each (unscaled) feature vector, in one pass.</summary>
    public (float Probability, float Score)[] PredictWithScores(IReadOnlyList<float[]> features) =>
        Transform(features.Select(f => Scaler.Apply(f)).ToArray()).Select(r => (r.Probability, r.Score)).ToArray();

    /// <summary>P(dog) for each (unscaled) feature vector.</summary>
    public float[] Predict(IReadOnlyList<float[]> features) =>
        PredictScaled(features.Select(f => Scaler.Apply(f)).ToArray());

    /// <summary>P(dog) for feature vectors already passed through the scaler.</summary>
    public float[] PredictScaled(IReadOnlyList<float[]> scaled) => Transform(scaled).Select(r => r.Probability).ToArray();

    /// <summary>Saves the ML.NET model (its own zip format).</summary>
    public void Save(Stream stream)
    {
        _ml.Model.Save(_model, _ml.Data.LoadFromEnumerable(Array.Empty<FeatureRow>(), _schema).Schema, stream);
    }

    /// <summary>Loads a head saved by <see cref="Save"/>, with the scaler saved beside it.</summary>
    public static LogisticHead Load(Stream stream, int dimension, FeatureScaler scaler)
    {
        var ml = new MLContext(0);
        var model = ml.Model.Load(stream, out _);
        return new LogisticHead(ml, model, dimension, scaler);
    }

    private IEnumerable<ScoreRow> Transform(IReadOnlyList<float[]> scaled) =>
        _ml.Data.CreateEnumerable<ScoreRow>(_model.Transform(_ml.Data.LoadFromEnumerable(Rows(scaled, null), _schema)), reuseRowObject: false);

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

        public float Score { get; set; }
    }
}
