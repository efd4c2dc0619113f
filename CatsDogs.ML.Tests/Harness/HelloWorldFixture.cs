using System.Collections.Concurrent;
using System.Diagnostics;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using CatsDogs.ML.Features;
using Xunit;

namespace CatsDogs.ML.Tests.Harness;

/// <summary>
/// Runs the README's hello world once per test run (ResNet18, seed 42, 80/20 split of the real photos) and shares
/// the trained classifier with the tests of the "trained resnet18" collection.
/// </summary>
public sealed class HelloWorldFixture : IDisposable
{
    private readonly ConcurrentDictionary<(bool FourFused, Precision Precision), Lazy<CatsDogsClassifier>> _models = new();

    public HelloWorldFixture()
    {
        var dir = TestEnvironment.DataDirectory;
        if (!Directory.Exists(dir))
        {
            return;
        }

        var clock = Stopwatch.StartNew();

        // --- README hello world (keep in sync with README.md) ---
        var photos = ImageDataset.FromFolder(dir);
        var (train, test) = photos.Split(validationFraction: 0.2, seed: 42);

        var classifier = new CatsDogsTrainer().Train(train);
        var report = classifier.Evaluate(test);
        Output = $"log loss {report.LogLoss:F4}, accuracy {report.Accuracy:P1}";
        // --- end of hello world ---

        TrainTime = clock.Elapsed;
        Train = train;
        Test = test;
        Classifier = classifier;
        Report = report;
    }

    public ImageDataset? Train { get; }

    public ImageDataset? Test { get; }

    public CatsDogsClassifier? Classifier { get; }

    public EvaluationReport? Report { get; }

    public string? Output { get; }

    public TimeSpan TrainTime { get; }

    /// <summary>
    /// A classifier trained on <see cref="Train"/> as a user would, with the default views and settings: ResNet18 or
    /// the four real backbones fused (<see cref="FusionFixture.FourBackbones"/>), in <paramref name="precision"/>
    /// (default: the one the hello world trained in, which the default precision chose on this machine). Each is
    /// trained once per test run, by the first test that asks, and shared: ResNet18 in the hello world's precision is
    /// <see cref="Classifier"/> itself, so tests that compare precisions never train it twice.
    /// </summary>
    public CatsDogsClassifier Model(bool fourFused, Precision? precision = null) =>
        !fourFused && (precision ?? Classifier!.Precision) == Classifier!.Precision
            ? Classifier!
            : _models.GetOrAdd((fourFused, precision ?? Classifier!.Precision), key => new Lazy<CatsDogsClassifier>(() => new CatsDogsTrainer(fourFused
                ? new CatsDogsOptions { Backbones = BackboneCatalog.Default.Resolve(FusionFixture.FourBackbones), ModelsDirectory = TestEnvironment.SharedModelsDirectory, Precision = key.Precision }
                : new CatsDogsOptions { Precision = key.Precision }).Train(Train!))).Value;

    public void Dispose()
    {
        Classifier?.Dispose();
        foreach (var model in _models.Values.Where(m => m.IsValueCreated))
        {
            model.Value.Dispose();
        }
    }
}

[CollectionDefinition("trained resnet18")]
public sealed class TrainedResNet18Collection : ICollectionFixture<HelloWorldFixture>, ICollectionFixture<FusionFixture>
{
}
