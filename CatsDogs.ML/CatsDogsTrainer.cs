using System.Diagnostics;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Training;

namespace CatsDogs.ML;

/// <summary>
/// Trains a <see cref="CatsDogsClassifier"/>: configure with <see cref="CatsDogsOptions"/>, then call
/// <see cref="Train"/> on a labelled <see cref="ImageDataset"/>.
/// </summary>
/// <example>
/// <code>
/// var data = ImageDataset.FromFolder("train");
/// using var classifier = new CatsDogsTrainer().Train(data);
/// Console.WriteLine(classifier.Predict("photo.jpg").DogProbability);
/// </code>
/// </example>
public sealed class CatsDogsTrainer
{
    /// <summary>
    /// Creates a trainer with <paramref name="options"/> (defaults: <see cref="CatsDogsOptions"/>'s, i.e. the backbones of
    /// <see cref="FeatureOptions.Backbones"/>, the views of <see cref="Imaging.ImageView.Defaults"/>, and the seed and folds
    /// of <see cref="HeadOptions"/>).
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    public CatsDogsTrainer(CatsDogsOptions? options = null)
    {
        Options = options ?? new CatsDogsOptions();
        Options.Features.Validate();
        Options.Head.Validate();
    }

    /// <summary>The options this trainer uses.</summary>
    public CatsDogsOptions Options { get; }

    /// <summary>
    /// Extracts (or reads cached) features for every photo, chooses the head's L2 weight by stratified
    /// cross-validation, leaves out photos the out-of-fold model confidently calls mislabelled and refits. Photos that
    /// cannot be decoded are skipped and listed in <see cref="CatsDogsClassifier.Training"/>; the run goes on.
    /// </summary>
    /// <exception cref="ArgumentException">A photo is unlabelled, or a class has fewer than two usable photos.</exception>
    /// <exception cref="BackboneFileNotFoundException">A backbone file is missing.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <remarks>
    /// With <see cref="FeatureOptions.Precision"/> int8 each backbone is first calibrated on
    /// <see cref="FeatureOptions.CalibrationPhotos"/> of the photos (stratified, seeded), then every feature is computed
    /// by its int8 graph; the calibration is saved with the model.
    /// </remarks>
    public CatsDogsClassifier Train(ImageDataset data, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        LabelChecks.RequireLabels(data, "training");
        var features = Options.Features with { Precision = Options.Features.TrainingPrecision };
        if (features.Precision == Precision.Int8 && features.Calibrations is null)
        {
            progress?.Report(new CatsDogsProgress("calibrating int8", 0, 1));
            features = features with { Calibrations = BackboneCalibration.Calibrate(features, data, Options.Seed, cancellationToken) };

            progress?.Report(new CatsDogsProgress("calibrating int8", 1, 1));
        }

        var backbones = features.OpenBackbones();
        try
        {
            var extractor = FeatureExtractor.Create(backbones, features);
            var clock = Stopwatch.StartNew();
            var (extracted, labels) = LabelledFeatures.Extract(extractor, data, "training", progress, cancellationToken);
            var featureTime = clock.Elapsed;

            progress?.Report(new CatsDogsProgress("training head", 0, 1));
            clock.Restart();
            var (head, search) = HeadTrainer.Train(extracted.Features, labels, LabelledFeatures.Blocks(extractor), Options.Head, cancellationToken);
            progress?.Report(new CatsDogsProgress("training head", 1, 1));
            var summary = new TrainingSummary
            {
                TrainedOn = labels.Length,
                Cats = labels.Count(l => l == PetLabel.Cat),
                Dogs = labels.Count(l => l == PetLabel.Dog),
                Skipped = extracted.Skipped,
                Trials = search.Trials,
                Best = search.Best,
                Folds = search.Folds,
                Excluded = search.Excluded.Select(i => new ExcludedImage(extracted.Images[i], labels[i] == PetLabel.Dog ? search.OutOfFold[i] : 1 - search.OutOfFold[i])).ToArray(),
                SubmissionClip = search.SubmissionClip,
                Seed = Options.Seed,
                FeatureTime = featureTime,
                HeadTime = clock.Elapsed,
            };
            return new CatsDogsClassifier(backbones, extractor, head, summary, features, DateTime.UtcNow);
        }
        catch
        {
            backbones.Dispose();
            throw;
        }
    }
}
