using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;

namespace CatsDogs.ML.Tests.Docs;

/// <summary>The README's code is the code the tests run.</summary>
[Trait("Category", Category.Unit)]
public class ReadmeTests
{
    private static string Readme => File.ReadAllText(Path.Combine(TestEnvironment.RepositoryRoot, "README.md"));

    /// <summary>
    /// The figures the README's hello world says it prints (its <c>// log loss …, accuracy … %</c> line): the one place
    /// they are written; the harness checks the fixture's run against them.
    /// </summary>
    public static (double LogLoss, double Accuracy, string Line) HelloWorldPrints()
    {
        var block = HelloWorldBlock();
        var match = Regex.Match(block, @"^\s*// (log loss (\d+\.\d+), accuracy (\d+\.\d+) %)\s*$", RegexOptions.Multiline);
        Assert.True(match.Success, "The README's hello world lost its printed line ('// log loss 0.0448, accuracy 98.3 %').");
        return (double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture), double.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture) / 100, match.Groups[1].Value);
    }

    /// <summary>
    /// What the README says each audit test finds among the data set's junk photos (its list under "Of the 12 junk
    /// photos"): photo → tests, as "ImageNet", "label", "size" or "colour STATISTIC". A photo it does not name escapes them all.
    /// </summary>
    public static IReadOnlyDictionary<string, SortedSet<string>> JunkFoundBy()
    {
        var lines = Readme.Split('\n');
        var start = Array.FindIndex(lines, l => l.StartsWith("Of the 12 junk photos", StringComparison.Ordinal));
        Assert.True(start >= 0, "The README lost its list of what finds the junk photos ('Of the 12 junk photos …').");
        var found = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        var tests = new List<string>();
        foreach (var line in lines.Skip(start + 1).TakeWhile(l => l.StartsWith("- ", StringComparison.Ordinal)))
        {
            var test = line[2..].Split(' ', ':')[0];
            tests.Add(test);
            var list = line[(line.IndexOf(": ", StringComparison.Ordinal) + 2)..];
            list = list.Contains(". ", StringComparison.Ordinal) ? list[..list.IndexOf(". ", StringComparison.Ordinal)] : list;
            foreach (var group in list.Split("; "))
            {
                var photos = Regex.Matches(group, @"\b(?:cat|dog)\.\d+\b").Select(m => m.Value).ToArray();
                var tag = test == "colour" && photos.Length > 0 ? $"colour {group[..group.IndexOf(photos[0], StringComparison.Ordinal)].Trim()}" : test;
                foreach (var photo in photos)
                {
                    (found.TryGetValue(photo, out var set) ? set : found[photo] = new SortedSet<string>(StringComparer.Ordinal)).Add(tag);
                }
            }
        }

        Assert.Equal(["ImageNet", "label", "colour", "size"], tests);
        return found;
    }

    [Fact]
    public void JunkList_NamesEachTest_AndOnlyTheDataSetsJunkPhotos()
    {
        var found = JunkFoundBy();
        Assert.All(found.Keys, photo => Assert.Contains(photo, Harness.FusionHarnessTests.KnownJunk));
        Assert.Contains("colour colour ratio", found.Values.SelectMany(v => v));

        // Each colour entry names a statistic the audit fences, as its finding's tag reads in the harness.
        var statistics = new ML.Audit.PhotoStatistics(new ML.Data.ImageEntry("x.jpg"), 1, 1, 0, 0, 0, 1).Colour
            .Select(c => "colour " + c.Name.Replace(ML.Audit.PhotoStatistics.LogColourRatio, "colour ratio", StringComparison.Ordinal)).ToArray();
        Assert.All(found.Values.SelectMany(v => v).Where(t => t.StartsWith("colour", StringComparison.Ordinal)), tag => Assert.Contains(tag, statistics));
    }

    private static string HelloWorldBlock()
    {
        var readme = Readme;
        var block = readme[readme.IndexOf("## Hello world", StringComparison.Ordinal)..];
        return block[(block.IndexOf("```csharp", StringComparison.Ordinal) + 9)..block.IndexOf("```\n", 10, StringComparison.Ordinal)];
    }

    [Fact]
    public void HelloWorld_PrintedLine_IsWhatItsWriteLineFormats()
    {
        // The comment must be a line the code can print: formatted back from its own figures, it is the same text.
        var (logLoss, accuracy, line) = HelloWorldPrints();
        Assert.Equal(line, string.Create(CultureInfo.InvariantCulture, $"log loss {logLoss:F4}, accuracy {accuracy:P1}"));
        Assert.Contains("Console.WriteLine($\"log loss {report.LogLoss:F4}, accuracy {report.Accuracy:P1}\");", HelloWorldBlock(), StringComparison.Ordinal);
    }

    [Fact]
    public void HelloWorld_IsTheFixturesCode_LineForLine()
    {
        var fixture = File.ReadAllLines(Path.Combine(TestEnvironment.RepositoryRoot, "CatsDogs.ML.Tests", "Harness", "HelloWorldFixture.cs"));
        var from = Array.FindIndex(fixture, l => l.Contains("--- README hello world", StringComparison.Ordinal));
        var to = Array.FindIndex(fixture, l => l.Contains("--- end of hello world", StringComparison.Ordinal));
        Assert.True(from >= 0 && to > from, "HelloWorldFixture lost its markers");
        var code = fixture[(from + 1)..to].Select(l => l.Trim()).Where(l => l.Length > 0)
            .Select(l => l.Replace("Output = ", "Console.WriteLine(", StringComparison.Ordinal).Replace("\";", "\");", StringComparison.Ordinal))
            .Select(l => l.Replace("var classifier = ", "using var classifier = ", StringComparison.Ordinal).Replace("(dir)", "(\"../shared/data/dogs-vs-cats/train\")", StringComparison.Ordinal));

        var lines = HelloWorldBlock().Split('\n').Select(l => l.Trim()).ToArray();
        foreach (var line in code)
        {
            Assert.Contains(line, lines);
        }
    }

    [Fact]
    public void TrainRow_SpellsTheDefaultViews_AsImageViewDefaultsHasThem()
    {
        var row = Readme.Split('\n').Single(l => l.StartsWith("| `train <data-dir>", StringComparison.Ordinal));
        var views = Regex.Match(row, @"\[--views ([^\]]+)\]").Groups[1].Value;
        Assert.Equal(string.Join(",", ML.Imaging.ImageView.Defaults), views);
    }

    [Fact]
    public void Readme_IsAFrontDoor_AndLinksToEveryDocPage()
    {
        var readme = Readme;
        Assert.True(readme.Split('\n').Length <= 240, $"README has {readme.Split('\n').Length} lines; long sections belong in docs/");
        foreach (var page in Directory.GetFiles(Path.Combine(TestEnvironment.RepositoryRoot, "docs"), "*.md"))
        {
            Assert.Contains($"docs/{Path.GetFileName(page)}", readme, StringComparison.Ordinal);
        }
    }
}
