using System.Diagnostics;
using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using Xunit;

namespace CatsDogs.ML.Tests.Harness;

/// <summary>
/// Runs the README's hello world once per test run (ResNet18, seed 42, 80/20 split of the real photos) and shares
/// the trained classifier with the tests of the "trained resnet18" collection.
/// </summary>
public sealed class HelloWorldFixture : IDisposable
{
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

    public void Dispose() => Classifier?.Dispose();
}

[CollectionDefinition("trained resnet18")]
public sealed class TrainedResNet18Collection : ICollectionFixture<HelloWorldFixture>, ICollectionFixture<FusionFixture>
{
}
