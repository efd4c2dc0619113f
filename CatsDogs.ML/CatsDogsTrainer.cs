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
    /// <summary>Creates a trainer with <paramref name="options"/> (defaults: ResNet18, seed 42, 5-fold cross-validation).</summary>
    public CatsDogsTrainer(CatsDogsOptions? options = null)
    {
        Options = options ?? new CatsDogsOptions();
        if (Options.Backbones.Count == 0)
        {
            throw new ArgumentException("Choose at least one backbone.", nameof(options));
        }
    }

    /// <summary>The options this trainer uses.</summary>
    public CatsDogsOptions Options { get; }

    /// <summary>
    /// Extracts (or reads cached) features for every photo, chooses the head's L2 weight by stratified
    /// cross-validation, leaves out photos the out-of-fold model confidently calls mislabelled and refits. Photos that cannot be decoded are skipped and listed in
    /// <see cref="CatsDogsClassifier.Training"/>; the run goes on.
    /// </summary>
    /// <exception cref="ArgumentException">A photo is unlabelled, or a class has fewer than two usable photos.</exception>
    /// <exception cref="BackboneFileNotFoundException">A backbone file is missing.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public CatsDogsClassifier Train(ImageDataset data, IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        LabelChecks.RequireLabels(data, "training", nameof(data));

        var backbones = Backbone.OpenAll(Options.Backbones, Options.ModelsDirectory, device: Options.Device);
        try
        {
            var extractor = FeatureExtractor.Create(backbones, Options);
            var clock = Stopwatch.StartNew();
            var extracted = extractor.Extract(data, progress, cancellationToken);
            var featureTime = clock.Elapsed;

            var labels = LabelChecks.UsableLabels(extracted, data.Count, "Training", nameof(data));

            progress?.Report(new CatsDogsProgress("training head", 0, 1));
            clock.Restart();
            var (head, search) = HeadTrainer.Train(extracted.Features, labels, Options.Backbones.Select(b => b.FeatureDimension).ToArray(), Options, cancellationToken);
            progress?.Report(new CatsDogsProgress("training head", 1, 1));
            var summary = new TrainingSummary
            {
                TrainedOn = labels.Length,
                Cats = labels.Count(l => l == PetLabel.Cat),
                Dogs = labels.Count(l => l == PetLabel.Dog),
                Skipped = extracted.Skipped,
                Trials = search.Trials,
                Best = search.Best,
                Folds = Options.Folds,
                Excluded = search.Excluded.Select(i => new ExcludedImage(extracted.Images[i], labels[i] == PetLabel.Dog ? search.OutOfFold[i] : 1 - search.OutOfFold[i])).ToArray(),
                Seed = Options.Seed,
                FeatureTime = featureTime,
                HeadTime = clock.Elapsed,
            };
            return new CatsDogsClassifier(backbones, head, extractor, summary, Options.ModelsDirectory, Options.Device);
        }
        catch
        {
            foreach (var backbone in backbones)
            {
                backbone.Dispose();
            }

            throw;
        }
    }
}
