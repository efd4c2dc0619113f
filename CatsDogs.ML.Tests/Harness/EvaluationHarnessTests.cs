using System.Diagnostics;
using System.Globalization;
using CatsDogs.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Harness;

/// <summary>The evaluation harness: ResNet18 on the seeded 80/20 split of the real Dogs vs. Cats photos.</summary>
[Collection("trained resnet18")]
public class EvaluationHarnessTests(HelloWorldFixture trained, ITestOutputHelper output)
{
    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void ResNet18_On8020Split_MeetsLogLossAndAccuracyTargets()
    {
        var report = trained.Report!;
        var training = trained.Classifier!.Training!;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"HARNESS resnet18: train {trained.Train!.Count} / test {report.Count} photos; log loss {report.LogLoss:F4}, accuracy {report.Accuracy:P2}, AUC {report.Auc:F4}; "
            + $"chosen L2 {training.Best.L2}; cold train {trained.TrainTime.TotalSeconds:F1} s (features {training.FeatureTime.TotalSeconds:F1} s, head {training.HeadTime.TotalSeconds:F1} s)"));
        output.WriteLine("hello world prints: " + trained.Output);
        foreach (var worst in report.Worst.Take(5))
        {
            output.WriteLine($"  worst: {Path.GetFileName(worst.Image.Path)} ({worst.Image.Label}) P(dog)={worst.DogProbability:F3}");
        }

        Assert.Equal(trained.Test!.Count, report.Count);
        Assert.Empty(report.Skipped);
        Assert.InRange(report.LogLoss, 0, 0.060);
        Assert.InRange(report.Accuracy, 0.975, 1);

        // The README's hello world says what it prints; the run must print that, to ±0.002 log loss and ±0.3 % accuracy.
        var readme = Docs.ReadmeTests.HelloWorldPrints();
        output.WriteLine($"README says: {readme.Line}");
        Assert.InRange(report.LogLoss, readme.LogLoss - 0.002, readme.LogLoss + 0.002);
        Assert.InRange(report.Accuracy, readme.Accuracy - 0.003, readme.Accuracy + 0.003);
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void Retrain_FromWarmCache_GivesTheSameModel()
    {
        var clock = Stopwatch.StartNew();
        using var again = new CatsDogsTrainer().Train(trained.Train!);
        var warm = clock.Elapsed;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"WARM retrain on {trained.Train!.Count} photos: {warm.TotalSeconds:F1} s (features {again.Training!.FeatureTime.TotalSeconds:F1} s, head {again.Training.HeadTime.TotalSeconds:F1} s)"));

        var sample = trained.Test!.Take(200).ToArray();
        var first = trained.Classifier!.PredictMany(sample).Scored;
        var second = again.PredictMany(sample).Scored;
        Assert.Equal(first.Count, second.Count);
        for (var i = 0; i < first.Count; i++)
        {
            Assert.Equal(first[i].DogProbability, second[i].DogProbability, 6);
        }
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void OneCorruptFile_InAThousand_CostsOneSkippedEntry()
    {
        var dataDir = TestEnvironment.DataDirectory;
        using var dir = TestEnvironment.NewTempDirectory();
        var photos = ImageDataset.FromFolder(dataDir).Shuffle(seed: 3).Take(1000).ToArray();
        foreach (var photo in photos.Skip(1))
        {
            File.Copy(photo.Path, dir.File(Path.GetFileName(photo.Path)));
        }

        var bytes = File.ReadAllBytes(photos[0].Path);
        var corrupt = dir.File(Path.GetFileName(photos[0].Path));
        File.WriteAllBytes(corrupt, bytes[..(bytes.Length / 2)]);

        var result = trained.Classifier!.PredictFolder(dir.Path);

        Assert.Equal(1000, result.Count);
        Assert.Equal(999, result.Scored.Count);
        var skipped = Assert.Single(result.Skipped);
        Assert.Equal(corrupt, skipped.Image.Path);
        Assert.Contains("truncated", skipped.Reason, StringComparison.Ordinal);
        output.WriteLine($"skipped: {skipped.Image.Path}: {skipped.Reason}");

        // The other photos score exactly as they do from their original place.
        var reference = trained.Classifier.PredictMany(photos.Skip(1).Take(50).ToArray()).Scored.ToDictionary(p => Path.GetFileName(p.Image.Path), p => p.DogProbability);
        foreach (var p in result.Scored.Where(p => reference.ContainsKey(Path.GetFileName(p.Image.Path))))
        {
            Assert.Equal(reference[Path.GetFileName(p.Image.Path)], p.DogProbability);
        }
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void Predict_PathStreamAndBytes_Agree_WithBatch()
    {
        var classifier = trained.Classifier!;
        var photo = trained.Test![0];
        var batch = classifier.PredictMany([photo]).Scored.Single().DogProbability;

        Assert.Equal(batch, classifier.Predict(photo.Path).DogProbability);
        using (var stream = File.OpenRead(photo.Path))
        {
            Assert.Equal(batch, classifier.Predict(stream).DogProbability);
        }

        Assert.Equal(batch, classifier.Predict(File.ReadAllBytes(photo.Path)).DogProbability);
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void Predict_NotAnImage_ThrowsWithPathAndReason()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var path = dir.File("notes.jpg");
        File.WriteAllText(path, "shopping list: cat food");

        var e = Assert.Throws<ImageDecodeException>(() => trained.Classifier!.Predict(path));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("not an image", e.Reason, StringComparison.Ordinal);
    }
}
