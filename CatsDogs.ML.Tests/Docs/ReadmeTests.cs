using Xunit;

namespace CatsDogs.ML.Tests.Docs;

/// <summary>The README's code is the code the tests run.</summary>
[Trait("Category", Category.Unit)]
public class ReadmeTests
{
    private static string Readme => File.ReadAllText(Path.Combine(TestEnvironment.RepositoryRoot, "README.md"));

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

        var readme = Readme;
        var block = readme[readme.IndexOf("## Hello world", StringComparison.Ordinal)..];
        block = block[(block.IndexOf("```csharp", StringComparison.Ordinal) + 9)..block.IndexOf("```\n", 10, StringComparison.Ordinal)];
        var lines = block.Split('\n').Select(l => l.Trim()).ToArray();
        foreach (var line in code)
        {
            Assert.Contains(line, lines);
        }
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
