using CatsDogs.ML.Data;
using Xunit;

namespace CatsDogs.ML.Tests.Data;

[Trait("Category", Category.Unit)]
public class DataSplitTests
{
    private static PetLabel[] Labels(int cats, int dogs) =>
        [.. Enumerable.Repeat(PetLabel.Cat, cats), .. Enumerable.Repeat(PetLabel.Dog, dogs)];

    [Theory]
    [InlineData(53, 47, 5)]
    [InlineData(10, 3, 3)]
    [InlineData(100, 100, 10)]
    public void StratifiedFolds_DealEachClassEvenly_OverEveryFold(int cats, int dogs, int folds)
    {
        var labels = Labels(cats, dogs);
        var fold = DataSplit.StratifiedFolds(labels, folds, seed: 42);
        Assert.All(fold, f => Assert.InRange(f, 0, folds - 1));
        foreach (var label in new[] { PetLabel.Cat, PetLabel.Dog })
        {
            var members = Enumerable.Range(0, labels.Length).Where(i => labels[i] == label).ToArray();
            var perFold = Enumerable.Range(0, folds).Select(k => members.Count(i => fold[i] == k)).ToArray();
            Assert.True(perFold.Max() - perFold.Min() <= 1, $"{label}: {string.Join(",", perFold)}");
        }
    }

    [Fact]
    public void StratifiedFolds_AreSeeded()
    {
        var labels = Labels(40, 40);
        Assert.Equal(DataSplit.StratifiedFolds(labels, 5, 1), DataSplit.StratifiedFolds(labels, 5, 1));
        Assert.NotEqual(DataSplit.StratifiedFolds(labels, 5, 1), DataSplit.StratifiedFolds(labels, 5, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSplit.StratifiedFolds(labels, 1, 1));
    }

    [Fact]
    public void StratifiedHoldout_HoldsTheFractionOfEachClass_AtLeastOne()
    {
        var labels = Labels(50, 7);
        var held = DataSplit.StratifiedHoldout(labels, 0.2, 3);
        Assert.Equal(10, held.Count(i => labels[i] == PetLabel.Cat));
        Assert.Equal(1, held.Count(i => labels[i] == PetLabel.Dog)); // round(1.4)
        Assert.Equal(1, DataSplit.StratifiedHoldout(Labels(2, 2), 0.01, 3).Count(i => i < 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSplit.StratifiedHoldout(labels, 1, 3));
    }
}
