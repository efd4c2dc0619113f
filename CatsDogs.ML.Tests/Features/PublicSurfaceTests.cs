using System.Reflection;
using System.Runtime.CompilerServices;
using CatsDogs.ML.Features;
using Xunit;

namespace CatsDogs.ML.Tests.Features;

/// <summary>What the feature pipeline shows outside the library, and who else may see more.</summary>
[Trait("Category", Category.Unit)]
public class PublicSurfaceTests
{
    [Fact]
    public void FeaturesNamespace_ExportsOnlyThePipeline_ItsOptions_AndItsRecords()
    {
        var exported = typeof(FeaturePipeline).Assembly.GetExportedTypes().Where(t => t.Namespace == "CatsDogs.ML.Features").Select(t => t.Name).Order(StringComparer.Ordinal);
        Assert.Equal(["ExtractedFeatures", "FeatureOptions", "FeaturePipeline", "Precision", "Precisions", "ViewOutputs"], exported);
    }

    [Fact]
    public void BrokerPackage_IsNoFriendOfTheLibrary()
    {
        var friends = typeof(FeaturePipeline).Assembly.GetCustomAttributes<InternalsVisibleToAttribute>().Select(a => a.AssemblyName).ToArray();
        Assert.Contains("CatsDogs.ML.Tests", friends); // the attributes are really read
        Assert.DoesNotContain("CatsDogs.ML.RabbitMQ", friends);
    }
}
