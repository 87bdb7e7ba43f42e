# bench/plot.gp — latency vs throughput from bench/run.sh's open-loop sweeps.
#
#   gnuplot -e "datafile='bench/results/latency-vs-throughput.dat'; \
#               outfile='bench/results/latency-vs-throughput.png'; \
#               t0='sweep 0 title'; t1='sweep 1 title'; subtitle='...'" bench/plot.gp
#
# The data file holds one block per sweep (separated by two blank lines),
# columns: pct target_rps achieved_rps p50_us p99_us p999_us ok (then CPU
# cores, the Redis-alone p50/p99, the featd/Redis p99 ratio and the send lag
# p99, which this plot does not use).
# One panel per sweep (their throughputs differ by orders of magnitude):
# x = achieved req/s, y = latency in ms (log scale), p50 / p99 / p99.9; each
# p99 point is labelled with its offered load (% of the closed-loop maximum),
# since past saturation the achieved rate can fall back below the offered one.

if (!exists("datafile")) datafile = 'bench/results/latency-vs-throughput.dat'
if (!exists("outfile")) outfile = 'bench/results/latency-vs-throughput.png'
if (!exists("t0")) t0 = 'batch 1 x 10 features'
if (!exists("t1")) t1 = 'batch 100 x 50 features'
if (!exists("subtitle")) subtitle = ''

if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 1400,620 enhanced font 'sans,11'
} else {
    set terminal png size 1400,620 font 'sans,11'
}
set output outfile

set multiplot layout 1,2 title "featd: latency vs throughput (open loop)\n{/*0.8 ".subtitle."}"
set grid xtics ytics mytics lc rgb '#dddddd'
set logscale y 10
set format y '%g'
set xlabel 'achieved requests/s'
set ylabel 'latency (ms)'
set key top left box opaque
set yrange [0.01:*]
set xrange [0:*]
set offsets 0, graph 0.06, 0, 0
set style data linespoints

set title t0
plot datafile index 0 using 3:($4/1000.0) title 'p50'   lw 2 pt 7 ps 0.8 lc rgb '#1f77b4', \
     ''       index 0 using 3:($5/1000.0) title 'p99'   lw 2 pt 5 ps 0.8 lc rgb '#ff7f0e', \
     ''       index 0 using 3:($6/1000.0) title 'p99.9' lw 2 pt 9 ps 0.9 lc rgb '#d62728', \
     ''       index 0 using 3:($5/1000.0):(sprintf('%d%%', $1)) with labels offset 0,-0.9 font ',8' tc rgb '#777777' notitle

set title t1
plot datafile index 1 using 3:($4/1000.0) title 'p50'   lw 2 pt 7 ps 0.8 lc rgb '#1f77b4', \
     ''       index 1 using 3:($5/1000.0) title 'p99'   lw 2 pt 5 ps 0.8 lc rgb '#ff7f0e', \
     ''       index 1 using 3:($6/1000.0) title 'p99.9' lw 2 pt 9 ps 0.9 lc rgb '#d62728', \
     ''       index 1 using 3:($5/1000.0):(sprintf('%d%%', $1)) with labels offset 0,-0.9 font ',8' tc rgb '#777777' notitle, \
     2.0 title 'target p99 2 ms' with lines dt 2 lw 1 lc rgb '#555555'

unset multiplot
