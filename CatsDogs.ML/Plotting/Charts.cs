using System.Reflection;
using System.Security.Cryptography;
using ScottPlot;

namespace CatsDogs.ML.Plotting;

/// <summary>A named set of points for a chart.</summary>
/// <param name="Name">Legend text.</param>
/// <param name="X">X values.</param>
/// <param name="Y">Y values, one per X.</param>
internal sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// The report charts, drawn with ScottPlot into PNG bytes. Text uses DejaVu Sans embedded in this assembly (written
/// once to a temporary file for ScottPlot), so charts render headless on a machine without any font or fontconfig.
/// </summary>
internal static class Charts
{
    public const string Font = "DejaVu Sans";
    private static readonly Lock FontLock = new();
    private static bool _fontReady;

    /// <summary>Colours by role: cats, dogs, a highlight, neutral lines.</summary>
    public static readonly Color Cat = Color.FromHex("#1f77b4"), Dog = Color.FromHex("#ff7f0e"), Highlight = Color.FromHex("#d62728"), Neutral = Color.FromHex("#7f7f7f");

    /// <summary>Lines (with markers) over a shared X axis; optional bands (low, high per X) drawn behind them.</summary>
    public static byte[] Lines(string title, string x, string y, IEnumerable<(Series Series, Color Colour)> lines, IEnumerable<(Series Low, Series High, Color Colour)>? bands = null,
        bool diagonal = false, int width = 640, int height = 440, IReadOnlyList<(double Position, string Label)>? xTicks = null)
    {
        var plot = New(title, x, y);
        foreach (var (low, high, colour) in bands ?? [])
        {
            var fill = plot.Add.FillY(low.X.ToArray(), low.Y.ToArray(), high.Y.ToArray());
            fill.FillColor = colour.WithAlpha(60);
            fill.LineWidth = 0;
            fill.LegendText = low.Name;
        }

        if (diagonal)
        {
            var line = plot.Add.Line(0, 0, 1, 1);
            line.Color = Neutral;
            line.LinePattern = LinePattern.Dashed;
        }

        foreach (var (series, colour) in lines)
        {
            var scatter = plot.Add.Scatter(series.X.ToArray(), series.Y.ToArray());
            scatter.Color = colour;
            scatter.LegendText = series.Name;
            scatter.MarkerSize = series.X.Count > 60 ? 0 : 6;
        }

        if (xTicks is not null)
        {
            plot.Axes.Bottom.SetTicks(xTicks.Select(t => t.Position).ToArray(), xTicks.Select(t => t.Label).ToArray());
        }

        plot.ShowLegend(Alignment.LowerRight);
        return Png(plot, width, height);
    }

    /// <summary>Points in groups (no lines).</summary>
    public static byte[] Points(string title, string x, string y, IEnumerable<(Series Series, Color Colour, float Size, MarkerShape Shape)> groups, int width = 640, int height = 480)
    {
        var plot = New(title, x, y);
        foreach (var (series, colour, size, shape) in groups)
        {
            var points = plot.Add.ScatterPoints(series.X.ToArray(), series.Y.ToArray());
            points.Color = colour;
            points.MarkerSize = size;
            points.MarkerShape = shape;
            points.LegendText = series.Name;
        }

        plot.ShowLegend(Alignment.UpperLeft);
        return Png(plot, width, height);
    }

    /// <summary>Histograms of several groups over shared bins in [min, max], side by side as bars; optional vertical markers.</summary>
    public static byte[] Histogram(string title, string x, IEnumerable<(string Name, IReadOnlyList<double> Values, Color Colour)> groups, double min, double max, int bins = 20,
        bool logCounts = false, IEnumerable<(double At, string Name)>? markers = null, int width = 640, int height = 440)
    {
        var plot = New(title, x, logCounts ? "photos (log10(1 + count))" : "photos");
        var list = groups.ToArray();
        var binWidth = (max - min) / bins;
        for (var g = 0; g < list.Length; g++)
        {
            var counts = new double[bins];
            foreach (var v in list[g].Values)
            {
                counts[Math.Clamp((int)((v - min) / binWidth), 0, bins - 1)]++;
            }

            var bars = counts.Select((c, i) => new Bar
            {
                Position = min + ((i + ((g + 0.5) / list.Length)) * binWidth),
                Value = logCounts ? Math.Log10(1 + c) : c,
                Size = binWidth / list.Length * 0.9,
                FillColor = list[g].Colour,
                LineWidth = 0,
            }).ToArray();
            var plottable = plot.Add.Bars(bars);
            plottable.LegendText = list[g].Name;
        }

        foreach (var (at, name) in markers ?? [])
        {
            var line = plot.Add.VerticalLine(at);
            line.Color = Highlight;
            line.LinePattern = LinePattern.Dashed;
            line.LegendText = name;
        }

        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperCenter);
        return Png(plot, width, height);
    }

    /// <summary>A 2 × 2 confusion matrix with its counts written in the cells, shaded by the share of each true class.</summary>
    public static byte[] Confusion(string title, int catsRight, int catsCalledDog, int dogsCalledCat, int dogsRight, int width = 420, int height = 380)
    {
        var plot = New(title, "predicted", "true");
        double cats = Math.Max(1, catsRight + catsCalledDog), dogs = Math.Max(1, dogsCalledCat + dogsRight);
        double[,] cells = { { dogsCalledCat / dogs, dogsRight / dogs }, { catsRight / cats, catsCalledDog / cats } };
        var heatmap = plot.Add.Heatmap(cells);
        heatmap.Colormap = new ScottPlot.Colormaps.Blues();
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        foreach (var (row, column, count, share) in new[] { (1, 0, catsRight, catsRight / cats), (1, 1, catsCalledDog, catsCalledDog / cats), (0, 0, dogsCalledCat, dogsCalledCat / dogs), (0, 1, dogsRight, dogsRight / dogs) })
        {
            var text = plot.Add.Text(count.ToString(System.Globalization.CultureInfo.InvariantCulture), column, row);
            text.LabelFontSize = 22;
            text.LabelFontName = Font;
            text.LabelAlignment = Alignment.MiddleCenter;
            text.LabelFontColor = share > 0.5 ? Colors.White : Colors.Black;
        }

        plot.Axes.Bottom.SetTicks([0, 1], ["cat", "dog"]);
        plot.Axes.Left.SetTicks([0, 1], ["dog", "cat"]);
        return Png(plot, width, height);
    }

    private static Plot New(string title, string x, string y)
    {
        EnsureFont();
        var plot = new Plot();
        plot.Font.Set(Font);
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        return plot;
    }

    private static byte[] Png(Plot plot, int width, int height) => plot.GetImageBytes(width, height, ImageFormat.Png);

    // ScottPlot takes fonts from files: the embedded one is written once, under a name derived from its hash.
    private static void EnsureFont()
    {
        lock (FontLock)
        {
            if (_fontReady)
            {
                return;
            }

            using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("CatsDogs.ML.Plotting.DejaVuSans.ttf")
                ?? throw new InvalidOperationException("The embedded report font is missing from CatsDogs.ML.");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var path = Path.Combine(Path.GetTempPath(), $"catsdogs-DejaVuSans-{Convert.ToHexStringLower(SHA256.HashData(bytes))[..12]}.ttf");
            if (!File.Exists(path) || new FileInfo(path).Length != bytes.Length)
            {
                var temp = path + "." + Environment.ProcessId + ".tmp";
                File.WriteAllBytes(temp, bytes);
                File.Move(temp, path, overwrite: true);
            }

            Fonts.AddFontFile(Font, path);
            Fonts.Default = Font;
            _fontReady = true;
        }
    }
}
