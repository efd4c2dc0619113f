using CatsDogs.ML.Backbones;
using CatsDogs.ML.Data;
using CatsDogs.ML.Tests.Harness;
using Xunit;

namespace CatsDogs.ML.Tests.Robustness;

[Collection("trained resnet18")]
public class ConcurrencyAndReproducibilityTests(HelloWorldFixture trained)
{
    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void EightThreads_TimesAHundredPredictions_EqualTheSequentialResults()
    {
        var classifier = trained.Classifier!;
        var photos = trained.Test!.Shuffle(21).Take(100).Select(p => p.Path).ToArray();
        var sequential = photos.Select(p => classifier.Predict(p).DogProbability).ToArray();

        var results = new float[8][];
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            // Each thread walks the photos in its own order, mixing single calls (by path and by bytes) and batch calls.
            var order = Enumerable.Range(0, photos.Length).OrderBy(i => (i * (t + 3)) % photos.Length).ToArray();
            var mine = new float[photos.Length];
            foreach (var chunk in order.Chunk(10))
            {
                if (t % 3 == 2)
                {
                    var batch = classifier.PredictMany(chunk.Select(i => ImageEntry.FromPath(photos[i])).ToArray()).Scored;
                    for (var k = 0; k < chunk.Length; k++)
                    {
                        mine[chunk[k]] = batch[k].DogProbability;
                    }

                    continue;
                }

                foreach (var i in chunk)
                {
                    mine[i] = t % 3 == 0 ? classifier.Predict(photos[i]).DogProbability : classifier.Predict(File.ReadAllBytes(photos[i]), photos[i]).DogProbability;
                }
            }

            results[t] = mine;
        })).ToArray();
        foreach (var thread in threads)
        {
            thread.Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        Assert.All(results, r => Assert.Equal(sequential, r));
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void SameSeedAndData_GiveTheSameModel_AnotherSeed_ChangesTheFolds()
    {
        var train = trained.Train!;
        using var same = new CatsDogsTrainer().Train(train);
        using var other = new CatsDogsTrainer(new CatsDogsOptions { Seed = 7 }).Train(train);
        var sample = trained.Test!.Take(50).ToArray();
        var reference = trained.Classifier!.PredictMany(sample).Scored.Select(s => s.DogProbability).ToArray();
        Assert.Equal(reference, same.PredictMany(sample).Scored.Select(s => s.DogProbability).ToArray(), new Tolerance(1e-6f));
        Assert.Equal(trained.Classifier.Training!.Trials, same.Training!.Trials);

        // Another seed deals other folds, so the cross-validated losses differ.
        Assert.NotEqual(
            trained.Classifier.Training.Trials.Select(t => t.ValidationLogLoss),
            other.Training!.Trials.Select(t => t.ValidationLogLoss));
        Assert.NotEqual(train.Split(0.2, seed: 42).Validation.Select(e => e.Path), train.Split(0.2, seed: 7).Validation.Select(e => e.Path));
    }

    [HarnessFact]
    [Trait("Category", Category.Harness)]
    public void TruncatedOrForeignModelFile_OfAUserSpec_IsACatchableErrorNamingTheFile()
    {
        using var dir = TestEnvironment.NewTempDirectory();
        var original = File.ReadAllBytes(BackboneCatalog.LocateFile(KnownBackbones.ResNet18));
        var spec = KnownBackbones.ResNet18 with { Name = "mine", FileName = "mine.onnx", Sha256 = null };
        File.Copy(BackboneCatalog.LocateFile(KnownBackbones.ResNet18).Replace("ResNet18Onnx/ResNet18.onnx", "ResNetPrepOnnx/ResNetPreprocess.onnx", StringComparison.Ordinal), dir.File("ResNetPreprocess.onnx"));

        File.WriteAllBytes(dir.File("mine.onnx"), original[..(original.Length / 2)]);
        var truncated = Assert.ThrowsAny<CatsDogsException>(() => Backbone.Open(spec, dir.Path));
        Assert.Contains(dir.File("mine.onnx"), truncated.Message, StringComparison.Ordinal);

        // A real ONNX file, but another network: its input is not the spec's.
        File.Copy(dir.File("ResNetPreprocess.onnx"), dir.File("mine.onnx"), overwrite: true);
        var foreign = Assert.Throws<BackboneMismatchException>(() => Backbone.Open(spec, dir.Path));
        Assert.Contains("no input named 'Input247'", foreign.Message, StringComparison.Ordinal);

        // The catalogue's own spec refuses a modified file by its hash before anything else.
        File.WriteAllBytes(dir.File("ResNet18.onnx"), original[..(original.Length / 2)]);
        var hash = Assert.Throws<BackboneMismatchException>(() => Backbone.Open(KnownBackbones.ResNet18, dir.Path));
        Assert.Contains("SHA-256", hash.Message, StringComparison.Ordinal);
    }

}
