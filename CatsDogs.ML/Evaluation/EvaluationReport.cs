using CatsDogs.ML.Data;

namespace CatsDogs.ML.Evaluation;

/// <summary>Counts of a binary confusion matrix, dog being the positive class.</summary>
/// <param name="TruePositives">Dogs called dogs.</param>
/// <param name="FalsePositives">Cats called dogs.</param>
/// <param name="TrueNegatives">Cats called cats.</param>
/// <param name="FalseNegatives">Dogs called cats.</param>
public sealed record ConfusionMatrix(int TruePositives, int FalsePositives, int TrueNegatives, int FalseNegatives);

/// <summary>One bin of a reliability diagram: the photos whose P(dog) fell in [<paramref name="Lower"/>, <paramref name="Upper"/>).</summary>
/// <param name="Lower">Lower edge of the bin.</param>
/// <param name="Upper">Upper edge (the last bin includes 1).</param>
/// <param name="Count">Photos in the bin.</param>
/// <param name="MeanPredicted">Their mean P(dog); NaN when the bin is empty.</param>
/// <param name="ObservedDogShare">The share of dogs among them; NaN when the bin is empty.</param>
public sealed record CalibrationBin(double Lower, double Upper, int Count, double MeanPredicted, double ObservedDogShare);

/// <summary>How well P(dog) matches how often it is a dog: a reliability table in ten bins of P(dog) and its expected calibration error.</summary>
/// <param name="Bins">Ten equal-width bins of P(dog), [0, 0.1) … [0.9, 1].</param>
/// <param name="ExpectedCalibrationError">Σ (bin count / N) × |mean P(dog) − observed dog share| over the bins.</param>
public sealed record Calibration(IReadOnlyList<CalibrationBin> Bins, double ExpectedCalibrationError)
{
    /// <summary>The reliability table of <paramref name="probabilities"/> against <paramref name="isDog"/>.</summary>
    public static Calibration Of(IReadOnlyList<bool> isDog, IReadOnlyList<double> probabilities)
    {
        var bins = new List<CalibrationBin>();
        var ece = 0.0;
        for (var b = 0; b < 10; b++)
        {
            double lower = b / 10.0, upper = (b + 1) / 10.0;
            var members = Enumerable.Range(0, probabilities.Count).Where(i => probabilities[i] >= lower && (probabilities[i] < upper || (b == 9 && probabilities[i] <= 1))).ToArray();
            var predicted = members.Length == 0 ? double.NaN : members.Average(i => probabilities[i]);
            var observed = members.Length == 0 ? double.NaN : members.Count(i => isDog[i]) / (double)members.Length;
            if (members.Length > 0)
            {
                ece += members.Length / (double)probabilities.Count * Math.Abs(predicted - observed);
            }

            bins.Add(new CalibrationBin(lower, upper, members.Length, predicted, observed));
        }

        return new Calibration(bins, ece);
    }
}

/// <summary>A scored labelled photo with its own log loss.</summary>
/// <param name="Image">The photo and its label.</param>
/// <param name="DogProbability">P(dog).</param>
/// <param name="LogLoss">Its contribution to the log loss.</param>
public sealed record ScoredImage(ImageEntry Image, float DogProbability, double LogLoss);

/// <summary>How well a classifier does on a labelled set.</summary>
public sealed record EvaluationReport
{
    /// <summary>Number of photos scored.</summary>
    public required int Count { get; init; }

    /// <summary>Kaggle log loss (probabilities clipped to [1e-15, 1 − 1e-15]).</summary>
    public required double LogLoss { get; init; }

    /// <summary>Share of photos classified correctly at 0.5.</summary>
    public required double Accuracy { get; init; }

    /// <summary>Area under the ROC curve.</summary>
    public required double Auc { get; init; }

    /// <summary>Reliability of P(dog): mean predicted against observed, per tenth of P(dog).</summary>
    public required Calibration Calibration { get; init; }

    /// <summary>Confusion matrix at 0.5.</summary>
    public required ConfusionMatrix Confusion { get; init; }

    /// <summary>The photos with the highest log loss, worst first.</summary>
    public required IReadOnlyList<ScoredImage> Worst { get; init; }

    /// <summary>Every scored photo, in input order.</summary>
    public required IReadOnlyList<ScoredImage> Scored { get; init; }

    /// <summary>Photos that could not be scored, with reasons.</summary>
    public required IReadOnlyList<SkippedImage> Skipped { get; init; }

    /// <summary>Builds the report from scored labelled photos.</summary>
    /// <exception cref="ArgumentException">A photo has no label, or nothing was scored.</exception>
    public static EvaluationReport Create(IReadOnlyList<ImagePrediction> scored, IReadOnlyList<SkippedImage> skipped, int worst = 10)
    {
        var unlabeled = scored.FirstOrDefault(p => p.Image.Label is null);
        if (unlabeled is not null)
        {
            throw new ArgumentException($"Cannot evaluate on '{unlabeled.Image.Path}': it has no label (name it cat.N.jpg / dog.N.jpg or use cat/ and dog/ folders).");
        }

        if (scored.Count == 0)
        {
            throw new ArgumentException($"Nothing to evaluate: no photo could be scored ({skipped.Count} skipped).");
        }

        var isDog = scored.Select(p => p.Image.Label == PetLabel.Dog).ToArray();
        var probability = scored.Select(p => (double)p.DogProbability).ToArray();
        var images = scored.Select((p, i) => new ScoredImage(p.Image, p.DogProbability, Metrics.LogLoss(isDog[i], probability[i]))).ToArray();
        int Count(bool dog, bool saidDog) => isDog.Where((y, i) => y == dog && (probability[i] >= 0.5) == saidDog).Count();
        return new EvaluationReport
        {
            Count = scored.Count,
            LogLoss = Metrics.LogLoss(isDog, probability),
            Accuracy = Metrics.Accuracy(isDog, probability),
            Auc = Metrics.Auc(isDog, probability),
            Confusion = new ConfusionMatrix(Count(true, true), Count(false, true), Count(false, false), Count(true, false)),
            Worst = images.OrderByDescending(s => s.LogLoss).ThenBy(s => s.Image.Path, StringComparer.Ordinal).Take(worst).ToArray(),
            Scored = images,
            Skipped = skipped,
            Calibration = Calibration.Of(isDog, probability),
        };
    }
}
