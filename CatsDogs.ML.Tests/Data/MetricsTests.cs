using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using Xunit;

namespace CatsDogs.ML.Tests.Data;

[Trait("Category", Category.Unit)]
public class MetricsTests
{
    [Fact]
    public void LogLoss_MatchesKaggleFormula()
    {
        bool[] y = [true, false, true, false];
        double[] p = [0.9, 0.2, 0.6, 0.5];
        var expected = -(Math.Log(0.9) + Math.Log(0.8) + Math.Log(0.6) + Math.Log(0.5)) / 4;
        Assert.Equal(expected, Metrics.LogLoss(y, p), 12);
    }

    [Fact]
    public void LogLoss_ClipsAt1e15()
    {
        Assert.Equal(-Math.Log(1e-15), Metrics.LogLoss([true], [0.0]), 9);
        Assert.Equal(-Math.Log(1 - (1 - 1e-15)), Metrics.LogLoss([false], [1.0]), 9);
        Assert.Equal(-Math.Log(1 - 1e-15), Metrics.LogLoss([true], [1.0]), 15);
    }

    [Fact]
    public void Auc_CountsTiesAsHalf()
    {
        Assert.Equal(1.0, Metrics.Auc([false, false, true, true], [0.1, 0.2, 0.8, 0.9]));
        Assert.Equal(0.0, Metrics.Auc([true, false], [0.1, 0.9]));
        Assert.Equal(0.5, Metrics.Auc([true, false], [0.5, 0.5]));
        // dogs 0.4, 0.8; cats 0.4, 0.2 → pairs: (0.4,0.4)=½, (0.4,0.2)=1, (0.8,0.4)=1, (0.8,0.2)=1 → 3.5/4
        Assert.Equal(0.875, Metrics.Auc([true, true, false, false], [0.4, 0.8, 0.4, 0.2]));
    }

    [Fact]
    public void Report_CountsConfusionAndRanksWorst()
    {
        ImagePrediction P(string name, PetLabel label, float p) => new(new ImageEntry($"/x/{name}", label), p);
        var report = EvaluationReport.Create(
            [P("a", PetLabel.Dog, 0.9f), P("b", PetLabel.Dog, 0.3f), P("c", PetLabel.Cat, 0.1f), P("d", PetLabel.Cat, 0.99f)],
            []);

        Assert.Equal(new ConfusionMatrix(TruePositives: 1, FalsePositives: 1, TrueNegatives: 1, FalseNegatives: 1), report.Confusion);
        Assert.Equal(0.5, report.Accuracy);
        Assert.Equal("/x/d", report.Worst[0].Image.Path);
        Assert.Equal(-Math.Log(1 - 0.99f), report.Worst[0].LogLoss, 6);
    }
}
