using System.Reflection;
using System.Runtime.CompilerServices;
using System.Xml.Linq;
using NetArchTest.Rules;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Architecture;

/// <summary>
/// Dependencies run one way, in data-flow order: Data → Imaging → Onnx → Backbones → Features → Training → Explain →
/// Evaluation / Audit / Persistence / Export → the facade (<c>CatsDogs.ML</c>). A namespace may use only namespaces of
/// a lower rank (and itself). Exceptions are leaves every layer may throw: they live in the root namespace but may use
/// nothing above Data. Checked on the compiled IL (NetArchTest reads method bodies too). The same holds between the
/// solution's assemblies. The orders are written here (they are the design); what they cover is discovered, so a new
/// folder or project that is not placed in them fails, and so does an entry that no longer exists.
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

    /// <summary>The solution's assemblies (the tests aside), by assembly name: each may reference only lower ranks.</summary>
    private static readonly (string Assembly, int Rank)[] AssemblyLayers =
    [
        ("CatsDogs.ML", 0),
        ("CatsDogs.ML.RabbitMQ", 1),
        ("catsdogs", 2), // samples/CatsDogs.Cli
        ("CatsDogs.Web", 2),
        ("MlNetBaseline", 2), // ML.NET alone, run by the bench as a baseline
        ("CatsDogs.Bench", 3),
    ];

    [Fact]
    public void EveryNamespace_HasAPlaceInTheLayerOrder_AndEveryLayerExists()
    {
        var discovered = LibraryNamespaces();
        output.WriteLine($"namespaces: {string.Join(", ", discovered)}");
        var unplaced = discovered.Where(ns => ns != "CatsDogs.ML" && LayerOf(ns) is null).ToArray();
        Assert.True(unplaced.Length == 0, $"Namespace(s) {string.Join(", ", unplaced)} of {Library.GetName().Name} have no layer: place each in {nameof(LayeringTests)}.{nameof(Layers)}, in data-flow order (the rank of the lowest layer it uses, plus one).");
        var stale = Layers.Where(l => !discovered.Any(ns => ns == l.Namespace || ns.StartsWith(l.Namespace + ".", StringComparison.Ordinal))).Select(l => l.Namespace).ToArray();
        Assert.True(stale.Length == 0, $"Layer(s) {string.Join(", ", stale)} no longer exist in {Library.GetName().Name}: remove them from {nameof(LayeringTests)}.{nameof(Layers)}.");
    }

    [Fact]
    public void EveryProject_HasAPlaceInTheAssemblyOrder_AndEveryEntryExists()
    {
        var projects = Projects();
        output.WriteLine($"projects: {string.Join(", ", projects.Select(p => p.Assembly))}");
        var unplaced = projects.Where(p => !AssemblyLayers.Any(a => a.Assembly == p.Assembly)).Select(p => $"{p.Assembly} ({p.File})").ToArray();
        Assert.True(unplaced.Length == 0, $"Project(s) {string.Join(", ", unplaced)} have no layer: place each in {nameof(LayeringTests)}.{nameof(AssemblyLayers)} above the assemblies it references.");
        var stale = AssemblyLayers.Where(a => !projects.Any(p => p.Assembly == a.Assembly)).Select(a => a.Assembly).ToArray();
        Assert.True(stale.Length == 0, $"Assembly layer(s) {string.Join(", ", stale)} are not projects of the solution any more: remove them from {nameof(LayeringTests)}.{nameof(AssemblyLayers)}.");
    }

    [Fact]
    public void EveryAssembly_ReferencesOnlyAssembliesBelowIt()
    {
        var failures = new List<string>();
        var checkedByReflection = 0;
        foreach (var project in Projects())
        {
            var rank = AssemblyLayers.SingleOrDefault(a => a.Assembly == project.Assembly).Rank;

            // The compiled assembly's references where it is loadable here (the test references the library, the broker
            // package and both samples), and the project references as written for the rest (the benches).
            IEnumerable<string> references = project.ProjectReferences;
            if (TryLoad(project.Assembly) is { } assembly)
            {
                checkedByReflection++;
                references = references.Concat(assembly.GetReferencedAssemblies().Select(r => r.Name!)).Distinct();
            }

            foreach (var reference in references.Where(r => AssemblyLayers.Any(a => a.Assembly == r)))
            {
                if (AssemblyLayers.Single(a => a.Assembly == reference).Rank >= rank)
                {
                    failures.Add($"{project.Assembly} (rank {rank}) references {reference}, which is not below it");
                }
            }
        }

        output.WriteLine($"{checkedByReflection} assemblies checked by reflection");
        Assert.True(checkedByReflection >= 4, $"only {checkedByReflection} of the solution's assemblies could be loaded");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void EveryLayer_UsesOnlyLayersBelowIt()
    {
        var facade = FacadeTypes();
        var failures = new List<string>();
        foreach (var (ns, rank) in Layers)
        {
            // ResideInNamespace takes sub-namespaces too (Onnx.Proto with Onnx).
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

    private static int? LayerOf(string ns) =>
        Layers.Where(l => ns == l.Namespace || ns.StartsWith(l.Namespace + ".", StringComparison.Ordinal)).Select(l => (int?)l.Rank).FirstOrDefault();

    // Every namespace that declares a type of the library (compiler-generated types aside).
    private static string[] LibraryNamespaces() => Library.GetTypes()
        // Types a source generator emits into its own namespace ([GeneratedRegex] → System.Text.RegularExpressions.Generated)
        // are the compiler's, not a folder of ours.
        .Where(t => !t.IsNested && t.Namespace is not null && t.GetCustomAttribute<CompilerGeneratedAttribute>() is null
            && !(t.GetCustomAttribute<System.CodeDom.Compiler.GeneratedCodeAttribute>() is not null && !t.Namespace.StartsWith("CatsDogs.", StringComparison.Ordinal)))
        .Select(t => t.Namespace!)
        .Distinct()
        .Order(StringComparer.Ordinal)
        .ToArray();

    // The solution's projects (the test project aside): assembly name, file and the assembly names of its project references.
    private static IReadOnlyList<(string Assembly, string File, string[] ProjectReferences)> Projects()
    {
        var root = TestEnvironment.RepositoryRoot;
        var solution = Directory.GetFiles(root, "*.sln").Single();
        var files = File.ReadLines(solution)
            .Where(l => l.StartsWith("Project(", StringComparison.Ordinal))
            .Select(l => l.Split('"')[5].Replace('\\', Path.DirectorySeparatorChar))
            .Where(f => f.EndsWith(".csproj", StringComparison.Ordinal))
            .Select(f => Path.GetFullPath(Path.Combine(root, f)))
            .Where(f => Path.GetFileNameWithoutExtension(f) != typeof(LayeringTests).Assembly.GetName().Name)
            .ToArray();
        return files.Select(f => (AssemblyName(f), Path.GetRelativePath(root, f),
            XDocument.Load(f).Descendants("ProjectReference").Select(r => AssemblyName(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(f)!, r.Attribute("Include")!.Value.Replace('\\', Path.DirectorySeparatorChar))))).ToArray())).ToArray();
    }

    private static string AssemblyName(string csproj) =>
        XDocument.Load(csproj).Descendants("AssemblyName").FirstOrDefault()?.Value ?? Path.GetFileNameWithoutExtension(csproj);

    private static Assembly? TryLoad(string name)
    {
        try
        {
            return Assembly.Load(new AssemblyName(name));
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    // The facade: the root namespace's types that are not exceptions, by full name.
    private static string[] FacadeTypes() => Library.GetTypes()
        .Where(t => t.Namespace == "CatsDogs.ML" && !typeof(Exception).IsAssignableFrom(t) && !t.Name.StartsWith('<') && !t.IsNested)
        .Select(t => t.FullName!)
        .ToArray();
}
