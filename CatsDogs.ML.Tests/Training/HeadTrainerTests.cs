using CatsDogs.ML.Data;
using CatsDogs.ML.Training;
using Xunit;

namespace CatsDogs.ML.Tests.Training;

/// <summary>The head's cross-validation, mislabel filter and scaler on synthetic features, where the right answer is known.</summary>
[Trait("Category", Category.Unit)]
public class HeadTrainerTests
{
    // Two well-separated classes in 8 dimensions: dogs around +2, cats around −2 in every dimension.
    private static (float[][] Features, PetLabel[] Labels) Separable(int count, int seed)
    {
        var random = new Random(seed);
        var features = new float[count][];
        var labels = new PetLabel[count];
        for (var i = 0; i < count; i++)
        {
            labels[i] = i % 2 == 0 ? PetLabel.Dog : PetLabel.Cat;
            var centre = labels[i] == PetLabel.Dog ? 2f : -2f;
            features[i] = Enumerable.Range(0, 8).Select(_ => centre + (float)Gaussian(random)).ToArray();
        }

        return (features, labels);
    }

    [Fact]
    public void ThreeFlippedLabels_OnSeparableFeatures_AreExactlyTheOnesLeftOut()
    {
        var (features, labels) = Separable(200, seed: 1);
        int[] flipped = [17, 88, 151];
        foreach (var i in flipped)
        {
            labels[i] = labels[i] == PetLabel.Dog ? PetLabel.Cat : PetLabel.Dog;
        }

        var (head, search) = HeadTrainer.Train(features, labels, [8], new HeadOptions { MaxDegreeOfParallelism = 2 }, CancellationToken.None);

        Assert.Equal(flipped, search.Excluded);
        Assert.Equal(5, search.Folds);
        Assert.All(flipped, i => Assert.True((labels[i] == PetLabel.Dog ? search.OutOfFold[i] : 1 - search.OutOfFold[i]) < 0.05));
        // The refitted head, without them, still gets every other photo right.
        var p = head.Predict(features);
        Assert.All(Enumerable.Range(0, 200).Except(flipped), i => Assert.Equal(labels[i] == PetLabel.Dog, p[i] >= 0.5f));
    }

    [Fact]
    public void NoMislabelThreshold_LeavesEveryPhotoIn_EvenFlippedOnes()
    {
        var (features, labels) = Separable(60, seed: 2);
        labels[7] = labels[7] == PetLabel.Dog ? PetLabel.Cat : PetLabel.Dog;
        var (_, search) = HeadTrainer.Train(features, labels, [8], new HeadOptions { MislabelThreshold = 0 }, CancellationToken.None);
        Assert.Empty(search.Excluded);
        Assert.True((labels[7] == PetLabel.Dog ? search.OutOfFold[7] : 1 - search.OutOfFold[7]) < 0.05, "the flipped photo is still contradicted out of fold");
    }

    [Fact]
    public void FewerPhotosThanFolds_UsesFewerFolds_AndSaysHowMany()
    {
        var (features, labels) = Separable(6, seed: 3); // three of each class
        var (_, search) = HeadTrainer.Train(features, labels, [8], new HeadOptions { Folds = 5 }, CancellationToken.None);
        Assert.Equal(3, search.Folds);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-5)]
    [InlineData(100000)]
    public void FoldsOutOfRange_AreRefused_NotClamped(int folds)
    {
        var e = Assert.Throws<ArgumentException>(() => new HeadOptions { Folds = folds }.Validate());
        Assert.Contains($"got {folds}", e.Message, StringComparison.Ordinal);
        Assert.Contains("between 2 and 20", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scaler_StandardisesEachFeature_AndWeightsEachBlockByTheNarrowestWidth()
    {
        var random = new Random(4);
        // Block A: 2 features; block B: 4 features (weight 2/4); the last feature of B is constant.
        var features = Enumerable.Range(0, 500).Select(_ => new[]
        {
            (float)(3 + (2 * Gaussian(random))), (float)(-1 + Gaussian(random)),
            (float)(10 * Gaussian(random)), (float)Gaussian(random), (float)(5 + Gaussian(random)), 7f,
        }).ToArray();
        var scaler = FeatureScaler.Fit(features, [2, 4]);
        var scaled = features.Select(f => scaler.Apply(f)).ToArray();
        double[] expectedStd = [1, 1, 0.5, 0.5, 0.5, 0];
        for (var j = 0; j < 6; j++)
        {
            var column = scaled.Select(f => (double)f[j]).ToArray();
            var mean = column.Average();
            var std = Math.Sqrt(column.Select(v => (v - mean) * (v - mean)).Average());
            Assert.InRange(mean, -1e-4, 1e-4);
            Assert.InRange(std, expectedStd[j] - 1e-4, expectedStd[j] + 1e-4);
        }
    }

    [Fact]
    public void Scaler_RoundTrips_AndRefusesANaN()
    {
        var scaler = FeatureScaler.Fit([[1f, 2f], [3f, 5f], [4f, 1f]], [2]);
        using var stream = new MemoryStream();
        scaler.Save(stream);
        var bytes = stream.ToArray();
        var loaded = FeatureScaler.Load(bytes, 2);
        Assert.Equal(scaler.Apply([2f, 3f]), loaded.Apply([2f, 3f]));

        BitConverter.GetBytes(float.NaN).CopyTo(bytes, 8);
        Assert.Throws<FormatException>(() => FeatureScaler.Load(bytes, 2));
        Assert.Throws<FormatException>(() => FeatureScaler.Load(bytes, 3));
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
