using CatsDogs.ML.Backbones;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.Training;
using Xunit;

namespace CatsDogs.ML.Tests.Training;

public class CatsDogsOptionsTests
{
    [Fact]
    [Trait("Category", Category.Unit)]
    public void Shortcuts_SetBeforeOrAfterTheirRecord_AreKept()
    {
        IReadOnlyList<BackboneSpec> backbones = [KnownBackbones.MobileNetV2, KnownBackbones.ResNet18];
        var features = new FeatureOptions { ModelsDirectory = "models", Views = [ImageView.Native] };
        var head = new HeadOptions { Folds = 3 };

        var before = new CatsDogsOptions { Backbones = backbones, Seed = 7, Features = features, Head = head };
        var after = new CatsDogsOptions { Features = features, Head = head, Backbones = backbones, Seed = 7 };

        foreach (var options in new[] { before, after })
        {
            Assert.Same(backbones, options.Features.Backbones);
            Assert.Equal("models", options.Features.ModelsDirectory);
            Assert.Equal([ImageView.Native], options.Views);
            Assert.Equal(7, options.Head.Seed);
            Assert.Equal(3, options.Folds);
        }

        Assert.Equal(before, after);
        Assert.Equal(before.GetHashCode(), after.GetHashCode());
        Assert.NotEqual(before, after with { Seed = 8 });
    }
}
