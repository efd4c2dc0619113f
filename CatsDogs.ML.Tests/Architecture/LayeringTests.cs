using System.Reflection;
using NetArchTest.Rules;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Architecture;

/// <summary>
/// Dependencies run one way, in data-flow order: Data → Imaging → Onnx → Backbones → Features → Training → Explain →
/// Evaluation / Audit / Persistence / Export → the facade (<c>CatsDogs.ML</c>). A namespace may use only namespaces of
/// a lower rank (and itself). Exceptions are leaves every layer may throw: they live in the root namespace but may use
/// nothing above Data. Checked on the compiled IL (NetArchTest reads method bodies too).
/// </summary>
[Trait("Category", Category.Unit)]
public class LayeringTests(ITestOutputHelper output)
{
    private static readonly Assembly Library = typeof(CatsDogsClassifier).Assembly;

    private static readonly (string Namespace, int Rank)[] Layers =
    [
        ("CatsDogs.ML.Data", 0),
        ("CatsDogs.ML.Imaging", 1),
        ("CatsDogs.ML.Plotting", 2),
        ("CatsDogs.ML.Onnx", 2),
        ("CatsDogs.ML.Backbones", 3),
        ("CatsDogs.ML.Features", 4),
        ("CatsDogs.ML.Training", 5),
        ("CatsDogs.ML.Explain", 6),
        ("CatsDogs.ML.Evaluation", 7),
        ("CatsDogs.ML.Audit", 7),
        ("CatsDogs.ML.Persistence", 7),
        ("CatsDogs.ML.Export", 7),
    ];

    [Fact]
    public void EveryLayer_UsesOnlyLayersBelowIt()
    {
        var facade = FacadeTypes();
        var failures = new List<string>();
        foreach (var (ns, rank) in Layers)
        {
            var forbidden = Layers.Where(l => l.Rank > rank || (l.Rank == rank && l.Namespace != ns)).Select(l => l.Namespace).Concat(facade).ToArray();
            failures.AddRange(Violations(Types.InAssembly(Library).That().ResideInNamespace(ns), forbidden).Select(t => $"{t} (layer {ns}) uses a layer at or above its own"));
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Exceptions_AreLeaves_UsingNothingAboveData()
    {
        var exceptions = Types.InAssembly(Library).That().ResideInNamespaceMatching("^CatsDogs\\.ML$").And().Inherit(typeof(Exception));
        Assert.True(exceptions.GetTypes().Count() >= 5);
        var above = Layers.Where(l => l.Rank > 0).Select(l => l.Namespace).Concat(FacadeTypes()).ToArray();
        var failures = Violations(exceptions, above);
        Assert.True(failures.Count == 0, string.Join(", ", failures));
    }

    [Fact]
    public void TheCheck_SeesRealEdges_SoItCanFail()
    {
        // The same check, asked the wrong way round, must find the edges that do exist: Features uses Backbones and
        // the facade uses the layers. NetArchTest matches a dependency by namespace prefix or full type name.
        var featuresOnBackbones = Violations(Types.InAssembly(Library).That().ResideInNamespace("CatsDogs.ML.Features"), ["CatsDogs.ML.Backbones"]);
        var facadeOnLayers = Violations(Types.InAssembly(Library).That().ResideInNamespaceMatching("^CatsDogs\\.ML$"), Layers.Select(l => l.Namespace).ToArray());
        var onFacade = Violations(Types.InAssembly(Library).That().ResideInNamespace("CatsDogs.ML.Explain"), ["CatsDogs.ML.CatsDogsClassifier"]);
        output.WriteLine($"Features types that use Backbones: {featuresOnBackbones.Count}; facade types that use the layers: {facadeOnLayers.Count}; Explain types naming the classifier (docs only): {onFacade.Count}");
        Assert.NotEmpty(featuresOnBackbones);
        Assert.NotEmpty(facadeOnLayers);
    }

    [Fact]
    public void CoreLibrary_HasNoBrokerDependency_OnlyTheBrokerPackageHasOne()
    {
        static string[] References(Assembly assembly) => assembly.GetReferencedAssemblies().Select(a => a.Name!).ToArray();
        Assert.DoesNotContain(References(Library), name => name.StartsWith("RabbitMQ", StringComparison.Ordinal));
        Assert.Contains("RabbitMQ.Client", References(typeof(RabbitMQ.BrokerWorker).Assembly));
    }

    private static IReadOnlyList<string> Violations(PredicateList types, string[] forbidden) =>
        types.ShouldNot().HaveDependencyOnAny(forbidden).GetResult().FailingTypeNames ?? [];

    // The facade: the root namespace's types that are not exceptions, by full name.
    private static string[] FacadeTypes() => Library.GetTypes()
        .Where(t => t.Namespace == "CatsDogs.ML" && !typeof(Exception).IsAssignableFrom(t) && !t.Name.StartsWith('<') && !t.IsNested)
        .Select(t => t.FullName!)
        .ToArray();
}
